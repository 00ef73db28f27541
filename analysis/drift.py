"""Night-over-night drift of a scoring run: pure functions over two metrics blocks.

Compared: the nightly measures of ``analysis.measures`` (the positive rate, the share of the
new text's tokens the model's vocabulary knows, the accuracy of labelled nights), each
alerting past its own threshold, the number of reviews scored, and the population stability
index (PSI) of the score distribution.
"""

from typing import Dict, List, Optional

import numpy as np

from analysis import measures

PSI_BINS = 10
# Conventional PSI reading: below 0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a major one.
PSI_MODERATE = 0.1
PSI_MAJOR = 0.25
# A share of zero in a bin would make PSI infinite; this floor is the usual fix.
_FLOOR = 1e-4
_ALERT = '{:.3f}'   # the values an alert quotes


def score_distribution(metrics: Dict, bins: int = PSI_BINS) -> np.ndarray:
    """All scored reviews' score histogram (every label together) folded into ``bins``
    equal-width bins, as shares summing to 1."""
    hist = sum(np.asarray(h, dtype=np.float64) for h in metrics['score_histograms'].values())
    if len(hist) % bins:
        raise ValueError(f'{len(hist)} histogram bins do not fold into {bins}')
    folded = hist.reshape(bins, -1).sum(axis=1)
    total = folded.sum()
    return folded / total if total else folded


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two distributions over the same bins."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), _FLOOR)
    a = np.maximum(np.asarray(actual, dtype=np.float64), _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_reading(value: float) -> str:
    if value >= PSI_MAJOR:
        return 'major shift'
    return 'moderate shift' if value >= PSI_MODERATE else 'stable'


def _change(current: Optional[float], previous: Optional[float]) -> Dict:
    delta = None if current is None or previous is None else current - previous
    return {'current': current, 'previous': previous, 'change': delta}


def compare(current: Dict, previous: Dict, date: str, previous_date: str) -> Dict:
    """drift.json: the night ``date`` against ``previous_date`` from their metrics blocks."""
    value = psi(score_distribution(previous), score_distribution(current))
    scored = measures.SCORED
    result = {
        'date': date,
        'previous_date': previous_date,
        'score_psi': {'value': value, 'bins': PSI_BINS, 'reading': psi_reading(value)},
        scored.key: _change(scored.value(current), scored.value(previous)),
    }
    for m in measures.nightly():
        now, before = m.value(current), m.value(previous)
        # Of two nights one unlabelled, a measure of labels has nothing to compare.
        if not m.needs_labels or (now is not None and before is not None):
            result[m.key] = _change(now, before)
    result['alerts'] = alerts(result)
    return result


def _worse_by(measure: measures.Measure, change: float) -> float:
    """How far a change went the worse way (how far at all, for a measure with no better way)."""
    if measure.higher_is_better is None:
        return abs(change)
    return -change if measure.higher_is_better else change


def alerts(drift: Dict) -> List[str]:
    """Plain-language warnings a scheduler's log or the report can show: the PSI's, and each
    nightly measure's past its ``drift_alert``."""
    found = []
    if drift['score_psi']['value'] >= PSI_MODERATE:
        found.append(f"score distribution: PSI {_ALERT.format(drift['score_psi']['value'])} "
                     f"({drift['score_psi']['reading']})")
    for m in measures.nightly():
        seen = drift.get(m.key) or {}
        if m.drift_alert is None or seen.get('change') is None:
            continue
        if _worse_by(m, seen['change']) >= m.drift_alert:
            moved = ('moved' if m.higher_is_better is None else
                     'fell' if seen['change'] < 0 else 'rose')
            found.append(f"{m.label} {moved} from {_ALERT.format(seen['previous'])} "
                         f"to {_ALERT.format(seen['current'])}")
    return found
