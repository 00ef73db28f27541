"""report.html of a scoring run: pure rendering from the metrics and error examples.

Review text is user-written input: it reaches the page only through the
autoescaping template, and the page's content security policy forbids scripts.
"""

from typing import Dict, List, Optional

from analysis import render, score_charts

_HEADLINE = (('accuracy', '{:.4f}'), ('roc_auc', '{:.4f}'), ('average_precision', '{:.4f}'),
             ('log_loss', '{:.4f}'), ('positive_rate', '{:.4f}'),
             ('vocabulary_coverage', '{:.4f}'), ('scored', '{:,}'),
             ('labelled', '{:,}'))


def shade(weight: float) -> str:
    """A word's background: green when it pushed towards positive, red towards negative."""
    alpha = min(abs(float(weight)) * 4, 0.8)
    rgb = '0,150,0' if weight > 0 else '220,0,0'
    return f'rgba({rgb},{alpha:.2f})'


def fmt(value, signed: bool = False) -> str:
    """A drift table cell: counts as integers, shares with four decimals."""
    if value is None:
        return '–'
    if isinstance(value, int):
        return f'{value:+,}' if signed else f'{value:,}'
    return f'{value:+.4f}' if signed else f'{value:.4f}'


def render_score_report(metrics: Dict, errors: Dict[str, List[Dict]], manifest: Dict,
                        drift: Optional[Dict] = None) -> str:
    """The self-contained HTML page (PNG charts embedded); ``drift`` adds the section
    comparing a nightly run with the previous night."""
    headline = [(name, fmt.format(metrics[name])) for name, fmt in _HEADLINE
                if metrics.get(name) is not None]
    if metrics.get('calibration'):
        headline.append(('expected calibration error', f"{metrics['calibration']['ece']:.4f}"))
    charts = [(name, render.figure_to_data_uri(fig))
              for name, fig in score_charts.charts(metrics).items()]
    inputs = ', '.join(i['path'] for i in manifest.get('inputs', []))
    return render.render_template(
        'score.html', shade=shade, title=inputs, created=manifest.get('created', ''), counts=manifest['counts'],
        headline=headline, report=metrics.get('classification_report'), charts=charts,
        errors=errors, drift=drift, fmt=fmt)
