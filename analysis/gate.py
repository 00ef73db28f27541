"""The model gate's arithmetic: two models' metrics side by side, per-slice deltas, a paired
test of their accuracy difference, and the verdict under thresholds. Pure functions.

The words, here and throughout the code: the *gate* judges a *candidate* model against a
*baseline* (the champion, or none), comparing their metrics (comparison.json), and its
*verdict* (verdict.json) says whether the candidate is *blessed*; ``imdb-sentiment evaluate``
is the command that runs the gate, and a registry keeps each version's verdict.

The paired test is McNemar's on the reviews that exactly one model gets right (b: only the
candidate, c: only the baseline): exact (binomial) below 50 such reviews, else the chi-square
with continuity correction. Like TFX's Evaluator, a candidate is blessed only when every
threshold holds; without a baseline, only the absolute ones can. No verdict rests on fewer
than ``min_reviews`` labelled reviews, and each states the smallest accuracy difference its
reviews could detect (``min_detectable_difference``).

A new file is *suspect* when the champion disagrees with its labels far beyond the champion's
known error on the gate set (``suspect_data``): flipped labels or a wrong column, which a
model trained on that file would learn and its own split would then confirm.
"""

import dataclasses
import math
from typing import Dict, List, Optional

from analysis import measures
from analysis.measures import ACCURACY, ECE, ROC_AUC


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """When a candidate is blessed (the evaluate flags; defaults as TFX users set them)."""
    max_accuracy_drop: float = 0.005      # below the baseline's accuracy, at most
    max_auc_drop: float = 0.005           # below the baseline's ROC AUC, at most
    max_calibration_error: float = 0.05   # expected calibration error, at most
    min_slice_reviews: int = 200          # slices this large are compared...
    max_slice_drop: float = 0.02          # ...and none may lose more accuracy than this
    min_accuracy: float = 0.80            # the floor, baseline or not
    min_reviews: int = 200                # no verdict on fewer labelled reviews
    max_data_shift: float = 0.10          # the champion's accuracy on new data below its
    # accuracy on the gate set, beyond sampling error, before the new file is suspect


Z_95 = 1.959964   # two-sided 95%


def min_detectable_difference(reviews: int) -> Optional[float]:
    """The smallest accuracy difference between two models that ``reviews`` labelled
    reviews can tell from chance at 95% confidence: 1.96 * sqrt(2 * 0.5 * 0.5 / n), the test
    of two proportions at its widest (accuracies near 0.5), at most 1. None for no review."""
    if reviews <= 0:
        return None
    return min(1.0, Z_95 * math.sqrt(0.5 / reviews))


def _standard_error(accuracy: float, reviews: int) -> float:
    return math.sqrt(max(accuracy * (1 - accuracy), 1.0 / reviews) / reviews)


def suspect_data(on_gate_set: Dict, on_data: Dict, max_shift: float) -> Dict:
    """Whether the champion's accuracy on the new data (``on_data``, its metrics) falls below
    its accuracy on the gate set by more than ``max_shift`` plus the 95% margin of the two
    samples: {'suspect', 'gate_set', 'data', 'drop', 'allowed', 'detail'}."""
    a, b = ACCURACY.value(on_gate_set), ACCURACY.value(on_data)
    n, m = on_gate_set.get('labelled') or 0, on_data.get('labelled') or 0
    if a is None or b is None or not n or not m:
        return {'suspect': False, 'detail': 'not measured: a side has no labelled review'}
    allowed = max_shift + Z_95 * math.sqrt(_standard_error(a, n) ** 2 +
                                           _standard_error(b, m) ** 2)
    drop = a - b
    return {'suspect': drop > allowed, 'gate_set': a, 'data': b, 'drop': drop,
            'allowed': allowed, 'detail': (
                f'the champion agrees with {ACCURACY.format(b)} of the new labels ({m} reviews) '
                f'against {ACCURACY.format(a)} on the gate set ({n} reviews): '
                f'{drop:.4f} lower, where {allowed:.4f} is allowed')}


def mcnemar(b: int, c: int) -> Dict:
    """McNemar's test for ``b`` reviews only the candidate got right and ``c`` only the
    baseline did: the two-sided p-value of 'both models are equally accurate'."""
    n = b + c
    if n == 0:
        return {'b': b, 'c': c, 'method': 'none', 'statistic': 0.0, 'p_value': 1.0}
    if n < 50:
        k = min(b, c)
        tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
        return {'b': b, 'c': c, 'method': 'exact binomial', 'statistic': float(k),
                'p_value': min(1.0, 2 * tail)}
    statistic = (abs(b - c) - 1) ** 2 / n
    p_value = math.erfc(math.sqrt(statistic / 2))  # chi-square, 1 degree of freedom
    return {'b': b, 'c': c, 'method': 'chi-square, continuity-corrected',
            'statistic': statistic, 'p_value': p_value}


def slice_accuracies(metrics: Dict) -> Dict[str, Dict[str, Dict]]:
    """{slice: {value: {count, accuracy}}} from a metrics block's error slices."""
    found = {}
    for name, values in (metrics.get('error_slices') or {}).items():
        found[name] = {v: {'count': s['count'],
                           'accuracy': 1 - s['errors'] / s['count'] if s['count'] else None}
                       for v, s in values.items()}
    return found


def slice_deltas(candidate: Dict, baseline: Dict) -> List[Dict]:
    """Every slice both models were measured on: counts, accuracies and the difference."""
    rows = []
    mine, theirs = slice_accuracies(candidate), slice_accuracies(baseline)
    for name in sorted(mine):
        for value in sorted(mine[name], key=str):
            if value not in theirs.get(name, {}):
                continue
            a, b = mine[name][value], theirs[name][value]
            delta = (a['accuracy'] - b['accuracy']
                     if a['accuracy'] is not None and b['accuracy'] is not None else None)
            rows.append({'slice': name, 'value': value, 'count': a['count'],
                         'candidate': a['accuracy'], 'baseline': b['accuracy'], 'delta': delta})
    return rows


def _check(name: str, passed: bool, detail: str) -> Dict:
    return {'check': name, 'passed': bool(passed), 'detail': detail}


def verdict(candidate: Dict, baseline: Optional[Dict], thresholds: Thresholds,
            new_data: Optional[Dict] = None) -> Dict:
    """{'blessed': bool, 'checks': [{check, passed, detail}], 'reviews',
    'min_detectable_difference'} for the candidate's metrics against the baseline's (None:
    the absolute checks alone); ``new_data`` (``suspect_data``'s answer on a new file judged
    beside them) adds the check that its labels are not suspect."""
    t = thresholds
    acc = ACCURACY.value(candidate)
    reviews = candidate.get('labelled') or 0
    mdd = min_detectable_difference(reviews)
    checks = [_check('enough reviews', reviews >= t.min_reviews,
                     f'{reviews} labelled reviews, at least {t.min_reviews} '
                     f'(the smallest difference they detect: '
                     f'{"none" if mdd is None else f"{mdd:.4f}"})'),
              _check(f'{ACCURACY.label} floor', acc is not None and acc >= t.min_accuracy,
                     f'{ACCURACY.label} {ACCURACY.format(acc)} against the floor '
                     f'{t.min_accuracy}' if acc is not None
                     else f'no labelled review: no {ACCURACY.label}')]
    if baseline is not None:
        ece = ECE.value(candidate)
        checks.append(_check(
            'calibration', ece is not None and ece <= t.max_calibration_error,
            f'{ECE.label} {ECE.format(ece)}, at most {t.max_calibration_error}'
            if ece is not None else 'no calibration measured'))
        for measure, allowed in ((ACCURACY, t.max_accuracy_drop), (ROC_AUC, t.max_auc_drop)):
            mine, theirs = measure.value(candidate), measure.value(baseline)
            name = f'{measure.label} against the baseline'
            if mine is None or theirs is None:
                checks.append(_check(name, False, f'{measure.label} missing for a model'))
                continue
            checks.append(_check(
                name, mine >= theirs - allowed,
                f'{measure.format(mine)} against {measure.format(theirs)} '
                f'(a drop of at most {allowed} allowed)'))
        worst = [r for r in slice_deltas(candidate, baseline)
                 if r['count'] >= t.min_slice_reviews and r['delta'] is not None
                 and r['delta'] < -t.max_slice_drop]
        checks.append(_check(
            'slices', not worst,
            'no slice of at least {} reviews loses more than {:.3f}'.format(
                t.min_slice_reviews, t.max_slice_drop) if not worst else '; '.join(
                f"{r['slice']}={r['value']} ({r['count']} reviews): {r['delta']:+.4f}"
                for r in worst)))
    if new_data is not None and new_data.get('suspect') is not None:
        checks.append(_check('new data labels', not new_data['suspect'], new_data['detail']))
    return {'blessed': all(c['passed'] for c in checks), 'checks': checks,
            'baseline': baseline is not None, 'reviews': reviews,
            'min_detectable_difference': mdd}


def side_by_side(candidate: Dict, baseline: Optional[Dict]) -> List[Dict]:
    """The measures the gate sets side by side (``analysis.measures``) of both models, and
    the candidate's change."""
    rows = []
    for m in measures.gated():
        mine, theirs = m.value(candidate), m.value(baseline)
        rows.append({'measure': m.key, 'candidate': mine, 'baseline': theirs,
                     'delta': mine - theirs if mine is not None and theirs is not None
                     else None})
    return rows
