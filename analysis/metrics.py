"""Binary-classification metrics from a small summary, never from all the rows.

The summary (see ``analysis.score_summary.ScoreSummaryFn``) holds exact confusion
counts and log loss, and per-label histograms of the score in ``BINS`` equal
bins; ROC and PR curves and their areas come from the histograms, so scores
that share a bin count as tied. scikit-learn computes them, fed the counts as
sample weights. Pure functions: no Beam, no I/O; scikit-learn loads on first use.
"""

import re
import warnings
from typing import Dict, List, Optional

import numpy as np

from transforms import schema

BINS = 1000
CALIBRATION_BINS = 10
EPS = float(np.finfo(np.float64).eps)  # log-loss clipping, as scikit-learn does
LENGTH_BUCKETS = (0, 100, 200, 400, 800)  # review length in words: [0,100), ..., [800, inf)
_NEGATION = re.compile(r"\b(?:not|no|never|nothing|none|nobody|neither|nor|cannot)\b|n't\b")


def has_negation(review: str) -> bool:
    return bool(_NEGATION.search(review.lower()))


def length_bucket(review: str) -> str:
    words = len(review.split())
    edges = LENGTH_BUCKETS
    for low, high in zip(edges, edges[1:]):
        if words < high:
            return f'{low}-{high - 1}'
    return f'{edges[-1]}+'


def score_bin(probability: float, bins: int = BINS) -> int:
    return min(int(probability * bins), bins - 1)


def classification_report(confusion: List[List[int]]) -> Dict:
    """confusion [[tn, fp], [fn, tp]] (rows: true negative/positive) -> per-class and macro
    precision, recall, F1 and support, and accuracy: sklearn's classification_report."""
    from sklearn import metrics as sk
    # One (truth, prediction) pair per cell, weighted by its count, is the confusion matrix
    # itself: every metric sklearn derives from it is exact.
    (tn, fp), (fn, tp) = confusion
    total = tn + fp + fn + tp
    if not total:  # sklearn needs a non-zero weight: nothing scored, every rate 0
        empty = {'precision': 0.0, 'recall': 0.0, 'f1': 0.0, 'support': 0}
        return {**{name: dict(empty) for name in ('negative', 'positive', 'macro avg')},
                'accuracy': 0.0}
    full = sk.classification_report([0, 0, 1, 1], [0, 1, 0, 1], labels=[0, 1],
                                    target_names=['negative', 'positive'],
                                    sample_weight=[tn, fp, fn, tp], output_dict=True,
                                    zero_division=0.0)
    report = {name: {'precision': float(full[name]['precision']),
                     'recall': float(full[name]['recall']),
                     'f1': float(full[name]['f1-score']),
                     'support': int(full[name]['support'])}
              for name in ('negative', 'positive', 'macro avg')}
    report['accuracy'] = float(full['accuracy'])
    return report


def _weighted_bins(hist_pos: np.ndarray, hist_neg: np.ndarray):
    """The histograms as scikit-learn input: each bin's centre as the score of its label's
    count (the weight). -> (y_true, y_score, sample_weight)."""
    centres = (np.arange(len(hist_pos)) + 0.5) / len(hist_pos)
    return (np.r_[np.ones(len(hist_pos)), np.zeros(len(hist_neg))], np.r_[centres, centres],
            np.r_[hist_pos, hist_neg].astype(np.float64))


# Why this is exact: scikit-learn sorts the scores, keeps one threshold per distinct score
# with non-zero weight, and sums the weights above each. With a bin's centre as the score
# of its count, that is one threshold per non-empty bin and the counts at or above it:
# the histograms' cumulative counts, as integers in float64 (exact below 2**53), divided
# as before. The curves keep their point per bin edge (threshold falling); an empty bin
# repeats the point before it, which sklearn leaves out, so ``_per_edge`` repeats it back.
# Repeated points add nothing to the trapezoids (ROC AUC) or to the recall gains
# (average precision).
def _per_edge(hist_pos: np.ndarray, hist_neg: np.ndarray) -> np.ndarray:
    """For each number k of top bins (0..BINS), how many of them are non-empty: the index
    of sklearn's curve point (with its leading threshold-at-infinity point) at edge k."""
    return np.r_[0, np.cumsum(((hist_pos + hist_neg) > 0)[::-1])]


def roc_curve(hist_pos: np.ndarray, hist_neg: np.ndarray) -> Dict:
    """False and true positive rates at every bin edge, threshold falling; and the AUC
    (None when one class is absent: sklearn refuses to define it there too)."""
    from sklearn import metrics as sk
    from sklearn.exceptions import UndefinedMetricWarning
    y, score, weight = _weighted_bins(hist_pos, hist_neg)
    both = bool(hist_pos.sum() and hist_neg.sum())
    with warnings.catch_warnings():
        # One class only: sklearn warns and gives NaN rates for the missing class; 0 here.
        warnings.simplefilter('ignore', UndefinedMetricWarning)
        fpr, tpr, _ = sk.roc_curve(y, score, sample_weight=weight, drop_intermediate=False)
    at = _per_edge(hist_pos, hist_neg)
    auc = float(sk.roc_auc_score(y, score, sample_weight=weight)) if both else None
    return {'fpr': np.nan_to_num(fpr[at]).tolist(), 'tpr': np.nan_to_num(tpr[at]).tolist(),
            'auc': auc}


def pr_curve(hist_pos: np.ndarray, hist_neg: np.ndarray) -> Dict:
    """Precision and recall at every bin edge from the first non-empty bin down; average
    precision as sklearn defines it (sum over thresholds of recall gain times precision)."""
    from sklearn import metrics as sk
    y, score, weight = _weighted_bins(hist_pos, hist_neg)
    positives = bool(hist_pos.sum())
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)  # no positives: recall set to 1 (0 here)
        precision, recall, _ = sk.precision_recall_curve(y, score, sample_weight=weight)
    # sklearn's order is threshold rising, ending with an extra (precision 1, recall 0) point.
    precision, recall = precision[-2::-1], recall[-2::-1]
    at = _per_edge(hist_pos, hist_neg)[1:]
    at = at[at > 0] - 1
    average = (float(sk.average_precision_score(y, score, sample_weight=weight))
               if positives else None)
    return {'precision': precision[at].tolist(),
            'recall': (recall[at] if positives else np.zeros(len(at))).tolist(),
            'average_precision': average}


def calibration(counts: np.ndarray, prob_sums: np.ndarray, positives: np.ndarray) -> Dict:
    """Reliability bins (mean predicted probability vs observed positive share) and the ECE."""
    total = counts.sum()
    nonzero = counts > 0
    mean_p = np.where(nonzero, prob_sums / np.maximum(counts, 1), np.nan)
    observed = np.where(nonzero, positives / np.maximum(counts, 1), np.nan)
    ece = float(np.nansum(counts / max(total, 1) * np.abs(mean_p - observed)))
    return {'bin_count': counts.astype(int).tolist(),
            'mean_probability': [None if np.isnan(x) else float(x) for x in mean_p],
            'positive_share': [None if np.isnan(x) else float(x) for x in observed],
            'ece': ece}


def error_slices(slices: Dict[str, Dict[str, List[int]]]) -> Dict:
    """{slice name: {value: [count, errors]}} -> {slice: {value: {count, errors, error_rate}}}."""
    return {name: {value: {'count': c, 'errors': e, 'error_rate': e / c if c else 0.0}
                   for value, (c, e) in sorted(values.items())}
            for name, values in slices.items()}


def vocabulary_coverage(coverage: Optional[Dict]) -> Optional[float]:
    """The share of the scored reviews' tokens the model's vocabulary knows, from the score
    job's token counts ({tokens, known_tokens}); None when they were not counted."""
    if not coverage or not coverage['tokens']:
        return None
    return coverage['known_tokens'] / coverage['tokens']


def summarize(summary: Dict, coverage: Optional[Dict] = None) -> Dict:
    """The whole metrics block of a scoring run from the combiner's summary and, when the
    job counted them, the token counts of ``vocabulary_coverage``. The measures of the block
    that reports and files show are rows of ``analysis.measures``."""
    hist = {k: np.asarray(summary['histograms'][k], dtype=np.int64)
            for k in ('positive', 'negative', schema.UNLABELED)}
    scored = int(summary['scored'])
    metrics = {
        'scored': scored,
        'labelled': int(summary['labelled']),
        'predicted_positive': int(summary['predicted_positive']),
        'positive_rate': summary['predicted_positive'] / scored if scored else None,
        'score_histograms': {k: v.tolist() for k, v in hist.items()},
    }
    if coverage is not None:
        metrics['vocabulary_coverage'] = vocabulary_coverage(coverage)
    if not summary['labelled']:
        return metrics
    report = classification_report(summary['confusion'])
    cal = summary['calibration']
    metrics.update({
        'accuracy': report['accuracy'],
        'confusion_matrix': summary['confusion'],
        'classification_report': report,
        'log_loss': summary['log_loss_sum'] / summary['labelled'],
        'roc': roc_curve(hist['positive'], hist['negative']),
        'pr': pr_curve(hist['positive'], hist['negative']),
        'calibration': calibration(np.asarray(cal['count']), np.asarray(cal['prob_sum']),
                                   np.asarray(cal['positives'])),
        'error_slices': error_slices(summary['slices']),
    })
    metrics['roc_auc'] = metrics['roc']['auc']
    metrics['average_precision'] = metrics['pr']['average_precision']
    return metrics
