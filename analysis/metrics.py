"""Binary-classification metrics from a small summary, never from all the rows.

The summary (see ``analysis.combiners.ScoreSummaryFn``) holds exact confusion
counts and log loss, and per-label histograms of the score in ``BINS`` equal
bins; ROC and PR curves and their areas come from the histograms, so scores
that share a bin count as tied. Pure functions: no Beam, no I/O.
"""

import re
from typing import Dict, List

import numpy as np

from transforms import features

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
    precision, recall, F1 and support, and accuracy, as sklearn's classification_report."""
    (tn, fp), (fn, tp) = confusion
    report = {}
    for name, hit, false_pos, false_neg in (('negative', tn, fn, fp), ('positive', tp, fp, fn)):
        precision = hit / (hit + false_pos) if hit + false_pos else 0.0
        recall = hit / (hit + false_neg) if hit + false_neg else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        report[name] = {'precision': precision, 'recall': recall, 'f1': f1,
                        'support': hit + false_neg}
    report['macro avg'] = {k: (report['negative'][k] + report['positive'][k]) / 2
                           for k in ('precision', 'recall', 'f1')}
    report['macro avg']['support'] = tn + fp + fn + tp
    total = tn + fp + fn + tp
    report['accuracy'] = (tn + tp) / total if total else 0.0
    return report


def roc_curve(hist_pos: np.ndarray, hist_neg: np.ndarray) -> Dict:
    """False and true positive rates at every bin edge, threshold falling; and the AUC
    (None when one class is absent: sklearn refuses to define it there too)."""
    tp = np.concatenate([[0], np.cumsum(hist_pos[::-1])])
    fp = np.concatenate([[0], np.cumsum(hist_neg[::-1])])
    tpr = tp / max(tp[-1], 1)
    fpr = fp / max(fp[-1], 1)
    auc = float(np.trapezoid(tpr, fpr)) if tp[-1] and fp[-1] else None
    return {'fpr': fpr.tolist(), 'tpr': tpr.tolist(), 'auc': auc}


def pr_curve(hist_pos: np.ndarray, hist_neg: np.ndarray) -> Dict:
    """Precision and recall at every bin edge; average precision as sklearn defines it
    (sum over thresholds of recall gain times precision)."""
    tp = np.cumsum(hist_pos[::-1])
    fp = np.cumsum(hist_neg[::-1])
    keep = (tp + fp) > 0
    tp, fp = tp[keep], fp[keep]
    precision = tp / (tp + fp)
    recall = tp / max(tp[-1], 1)
    gains = np.diff(np.concatenate([[0.0], recall]))
    average = float(np.sum(gains * precision)) if len(tp) and tp[-1] else None  # no positives
    return {'precision': precision.tolist(), 'recall': recall.tolist(),
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


def summarize(summary: Dict) -> Dict:
    """The whole metrics block of a scoring run from the combiner's summary."""
    hist = {k: np.asarray(summary['histograms'][k], dtype=np.int64)
            for k in ('positive', 'negative', features.UNLABELED)}
    scored = int(summary['scored'])
    metrics = {
        'scored': scored,
        'labelled': int(summary['labelled']),
        'predicted_positive': int(summary['predicted_positive']),
        'positive_rate': summary['predicted_positive'] / scored if scored else None,
        'score_histograms': {k: v.tolist() for k, v in hist.items()},
    }
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
