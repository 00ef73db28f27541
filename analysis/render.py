"""Report rendering shared by every job: PNG charts as data URIs, and autoescaped HTML.

Reports are single self-contained files: charts are embedded as base64 PNG data
URIs, so a report can be mailed or archived without its images getting lost.
Everything a template shows is escaped (reviews, words and file names are user
input and must never run in the reader's browser); only the data URIs made here
are trusted. No Beam here: a job computes a small summary, this renders it.
"""

import base64
import io
import os
import re
from typing import Any, Callable, Dict, List, Optional

import jinja2
import matplotlib

# A headless backend: reports are rendered on servers and workers without a display.
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

TEMPLATES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'templates')
DPI = 100


def new_figure(width: float = 10.0, height: float = 4.0, ncols: int = 1, nrows: int = 1):
    """(figure, axes) for one chart, sized in inches at ``DPI``; close it with
    ``figure_to_data_uri``."""
    return plt.subplots(nrows=nrows, ncols=ncols, figsize=(width, height), dpi=DPI,
                        squeeze=False)


def figure_to_data_uri(fig) -> str:
    """A matplotlib figure -> 'data:image/png;base64,...'; the figure is closed.

    Closing matters: pyplot keeps every open figure alive, and a report makes many.
    """
    buffer = io.BytesIO()
    try:
        fig.tight_layout()
        fig.savefig(buffer, format='png', dpi=DPI)
    finally:
        plt.close(fig)
    return 'data:image/png;base64,' + base64.b64encode(buffer.getvalue()).decode('ascii')


def _trusted_data_uri(value: str) -> str:
    """Lets a PNG data URI through ``src=`` untouched; anything else is refused, so a
    template cannot be tricked into loading a remote or javascript: URL."""
    if not isinstance(value, str) or not value.startswith('data:image/png;base64,'):
        raise ValueError(f'not a PNG data URI: {str(value)[:40]!r}')
    return value


_BREAK = re.compile(r'<br\s*/?>', re.IGNORECASE)


def number(value: Any, digits: int = 1) -> str:
    """One number format for every report: whole numbers with thousands separators
    (25,000), others with ``digits`` decimals; '' for a missing value."""
    if value is None or value == '':
        return ''
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or float(value).is_integer():
        return f'{int(value):,}'
    return f'{value:,.{digits}f}'


def lines(text: str) -> List[str]:
    """A review's text split at its ``<br />`` tags: a template shows the pieces as lines
    (each escaped), so the reader sees line breaks, never the raw tag."""
    return _BREAK.split(text or '')


def environment(templates_dir: str = TEMPLATES_DIR,
                filters: Optional[Dict[str, Callable]] = None) -> jinja2.Environment:
    """The Jinja2 environment of the reports: autoescape always on (whatever the
    template's file name), and a missing variable is an error rather than blank text.
    ``filters`` adds a report's own filters (their output is escaped like any value)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True)
    env.filters.update(data_uri=_trusted_data_uri, thousands=lambda n: f'{n:,}',
                       percent=lambda x, digits=1: f'{100 * x:.{digits}f}%', num=number,
                       lines=lines)
    env.filters.update(filters or {})
    return env


def render_template(template: str, /, *, filters: Optional[Dict[str, Callable]] = None,
                    templates_dir: str = TEMPLATES_DIR, **context: Any) -> str:
    """Renders ``templates_dir/template`` with ``context``; every value is HTML-escaped."""
    return environment(templates_dir, filters).get_template(template).render(**context)
