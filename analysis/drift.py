"""Night-over-night drift of a scoring run: pure functions over two metrics blocks.

Compared: the positive rate, the population stability index (PSI) of the score
distribution, and the share of the new text's tokens the model's vocabulary knows.
"""

from typing import Dict, List, Optional

import numpy as np

PSI_BINS = 10
# Conventional PSI reading: below 0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a major one.
PSI_MODERATE = 0.1
PSI_MAJOR = 0.25
# A share of zero in a bin would make PSI infinite; this floor is the usual fix.
_FLOOR = 1e-4


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
    result = {
        'date': date,
        'previous_date': previous_date,
        'positive_rate': _change(current.get('positive_rate'), previous.get('positive_rate')),
        'score_psi': {'value': value, 'bins': PSI_BINS, 'reading': psi_reading(value)},
        'vocabulary_coverage': _change(current.get('vocabulary_coverage'),
                                       previous.get('vocabulary_coverage')),
        'scored': _change(current.get('scored'), previous.get('scored')),
    }
    if current.get('accuracy') is not None and previous.get('accuracy') is not None:
        result['accuracy'] = _change(current['accuracy'], previous['accuracy'])
    result['alerts'] = alerts(result)
    return result


def alerts(drift: Dict) -> List[str]:
    """Plain-language warnings a scheduler's log or the report can show."""
    found = []
    if drift['score_psi']['value'] >= PSI_MODERATE:
        found.append(f"score distribution: PSI {drift['score_psi']['value']:.3f} "
                     f"({drift['score_psi']['reading']})")
    rate = drift['positive_rate']
    if rate['change'] is not None and abs(rate['change']) >= 0.1:
        found.append(f"positive rate moved from {rate['previous']:.3f} to {rate['current']:.3f}")
    coverage = drift['vocabulary_coverage']
    if coverage['change'] is not None and coverage['change'] <= -0.02:
        found.append(f"vocabulary coverage fell from {coverage['previous']:.3f} "
                     f"to {coverage['current']:.3f}")
    return found
