"""report.html of the model gate: pure rendering of the comparison and the verdict.

Model paths and input names are user input: they reach the page only through the
autoescaping template, under a content security policy that allows no script.
"""

from typing import Dict, List

from analysis import render

# Measure -> how the page names it, and whether higher is better (the colour of a change).
MEASURES = {'accuracy': ('accuracy', True), 'roc_auc': ('ROC AUC', True),
            'average_precision': ('average precision', True), 'log_loss': ('log loss', False),
            'positive_rate': ('positive rate', None), 'ece': ('calibration error (ECE)', False)}


def _signed(value) -> str:
    return '–' if value is None else f'{value:+.4f}'


def _plain(value) -> str:
    return '–' if value is None else f'{value:.4f}'


def rows(comparison: Dict) -> List[Dict]:
    """The side-by-side table, each change marked better or worse."""
    found = []
    for row in comparison['headline']:
        name, higher_is_better = MEASURES[row['measure']]
        direction = ''
        if row['delta'] and higher_is_better is not None:
            direction = 'better' if (row['delta'] > 0) == higher_is_better else 'worse'
        found.append(dict(row, name=name, direction=direction))
    return found


def render_gate_report(comparison: Dict, verdict: Dict, manifest: Dict) -> str:
    return render.render_template(
        'gate.html', comparison=comparison, verdict=verdict, manifest=manifest,
        rows=rows(comparison), signed=_signed, plain=_plain,
        inputs=', '.join(i['path'] for i in manifest.get('inputs', [])))
