"""Charts of a scoring run, drawn from the metrics dict (matplotlib, Agg). No Beam."""

from typing import Dict, List

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

_SIZE = (5, 3.6)


def confusion_matrix(m: Dict):
    fig, ax = plt.subplots(figsize=(4, 3.6))
    cm = np.asarray(m['confusion_matrix'])
    # Shaded and labelled by row share: each true label's reviews, however many of each.
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    ax.imshow(share, cmap='Blues', vmin=0, vmax=1)
    for (i, j), n in np.ndenumerate(cm):
        ax.text(j, i, f'{n:,}\n{100 * share[i, j]:.1f}%', ha='center', va='center',
                color='white' if share[i, j] > 0.5 else 'black', fontsize=11)
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=['negative', 'positive'],
           yticklabels=['negative', 'positive'], xlabel='predicted', ylabel='true',
           title='confusion matrix (% of each true label)')
    return fig


def _area(name: str, value) -> str:
    return f'{name} {value:.4f}' if value is not None else f'{name} undefined (one class only)'


def roc(m: Dict):
    fig, ax = plt.subplots(figsize=_SIZE)
    ax.plot(m['roc']['fpr'], m['roc']['tpr'], label=_area('AUC', m['roc']['auc']))
    ax.plot([0, 1], [0, 1], '--', color='grey', lw=0.8)
    ax.set(xlabel='false positive rate', ylabel='true positive rate', title='ROC curve')
    ax.legend(loc='lower right')
    return fig


def precision_recall(m: Dict):
    fig, ax = plt.subplots(figsize=_SIZE)
    ax.plot(m['pr']['recall'], m['pr']['precision'],
            label=_area('AP', m['pr']['average_precision']))
    ax.set(xlabel='recall', ylabel='precision', title='precision-recall curve', ylim=(0, 1.02))
    ax.legend(loc='lower left')
    return fig


def reliability(m: Dict):
    cal = m['calibration']
    fig, ax = plt.subplots(figsize=_SIZE)
    pairs = [(p, o) for p, o in zip(cal['mean_probability'], cal['positive_share'])
             if p is not None]
    ax.plot([0, 1], [0, 1], '--', color='grey', lw=0.8, label='perfectly calibrated')
    if pairs:
        ax.plot(*zip(*pairs), 'o-', label=f"model (ECE {cal['ece']:.4f})")
    ax.set(xlabel='mean predicted probability', ylabel='share positive',
           title='reliability diagram')
    ax.legend(loc='upper left')
    return fig


def score_histogram(m: Dict, bins: int = 50):
    fig, ax = plt.subplots(figsize=_SIZE)
    edges = np.linspace(0, 1, bins + 1)
    for name, counts in m['score_histograms'].items():
        counts = np.asarray(counts)
        if counts.sum():
            merged = counts.reshape(bins, -1).sum(axis=1)
            ax.stairs(merged, edges, label=name, fill=False, lw=1.5)
    ax.set(xlabel='P(positive)', ylabel='reviews', title='score distribution by label')
    ax.legend()
    return fig


def error_rates(m: Dict, slice_name: str, title: str):
    values = m['error_slices'].get(slice_name, {})
    fig, ax = plt.subplots(figsize=_SIZE)
    names = _ordered(list(values))
    ax.bar(names, [values[n]['error_rate'] for n in names])
    for i, n in enumerate(names):
        ax.text(i, values[n]['error_rate'], f"{values[n]['count']:,}", ha='center',
                va='bottom', fontsize=8)
    ax.set(ylabel='error rate', title=title)
    ax.tick_params(axis='x', labelrotation=20)
    return fig


def _ordered(names: List[str]) -> List[str]:
    def key(n):
        head = n.split('-')[0].rstrip('+')
        return (0, int(head)) if head.isdigit() else (1, n)
    return sorted(names, key=key)


def charts(m: Dict) -> Dict[str, object]:
    """Every chart the report shows, by name; labelled charts only when there are labels."""
    figures = {'score_histogram': score_histogram(m)}
    if m.get('labelled'):
        figures.update({
            'confusion_matrix': confusion_matrix(m), 'roc': roc(m), 'pr': precision_recall(m),
            'reliability': reliability(m),
            'error_by_length': error_rates(m, 'length_words', 'error rate by review length (words)'),
            'error_by_negation': error_rates(m, 'negation', 'error rate by negation'),
        })
        if m['error_slices'].get('rating'):
            figures['error_by_rating'] = error_rates(m, 'rating', 'error rate by star rating')
    return figures
