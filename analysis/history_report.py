"""The nights side by side: OUTPUT/index.html of a nightly root, pure rendering of the
history the launcher gathered from the partitions' manifests (``pipeline.nightly``).

One chart per figure over the dates, a dashed line where the model changed, and a table of
every night with its alerts. Charts are embedded PNGs; the page runs no script.
"""

from typing import Dict, List, Optional

from analysis import measures, render

# history.json's figures of a night beside the nightly measures of ``analysis.measures``.
SCORED, REJECTED_SHARE, PSI = measures.SCORED.key, 'rejected_share', 'psi'
# A night's status beside 'ok': a published night whose manifest cannot be read, a failed run.
DAMAGED, FAILED = 'damaged', 'failed'
_SHARE = '{:.3f}'


def _column(key: str, title: str, header: str, fmt: str) -> Dict:
    return {'key': key, 'title': title, 'header': header,
            'text': lambda v: '–' if v is None else fmt.format(v)}


def columns() -> List[Dict]:
    """The page's figures in order, as {key, title (its chart's), header (its column's),
    text (a value as shown)}: the night's volume, the nightly measures, the score PSI."""
    volume = [_column(SCORED, measures.SCORED.label, 'scored', measures.SCORED.fmt),
              _column(REJECTED_SHARE, 'rejected share', 'rejected', _SHARE)]
    nightly = [{'key': m.key, 'header': m.label, 'text': m.format,
                'title': m.label + (' (labelled nights)' if m.needs_labels else '')}
               for m in measures.nightly()]
    return [*volume, *nightly, _column(PSI, 'score PSI against the night before', 'PSI', _SHARE)]


def model_identity(model: Optional[Dict]):
    """What names a model across nights: its content hash (the same export in another
    folder is the same model); for nights recorded before it, its path, version and time."""
    model = model or {}
    return model.get('sha256') or tuple(model.get(k) for k in ('path', 'version', 'created'))


def model_changes(nights: List[Dict]) -> List[int]:
    """Indexes of the nights whose model differs from the night before's."""
    return [i for i in range(1, len(nights))
            if model_identity(nights[i].get('model')) !=
            model_identity(nights[i - 1].get('model'))]


def _chart(nights: List[Dict], key: str, title: str, changes: List[int]) -> Optional[str]:
    points = [(i, n[key]) for i, n in enumerate(nights) if n.get(key) is not None]
    if not points:
        return None
    fig, axes = render.new_figure(7.0, 2.6)
    ax = axes[0][0]
    ax.plot([i for i, _ in points], [v for _, v in points], 'o-', color='#4575b4',
            markersize=5)
    for i in changes:
        ax.axvline(i - 0.5, color='#d73027', linestyle='--', linewidth=1)
    ax.set_title(title + ('  (dashed: the model changed)' if changes else ''), fontsize=10)
    labels = [n['date'] for n in nights]
    step = max(1, len(labels) // 8)
    ax.set_xticks(range(0, len(labels), step))
    ax.set_xticklabels(labels[::step], rotation=30, ha='right', fontsize=8)
    ax.set_xlim(-0.5, len(nights) - 0.5)
    ax.grid(alpha=0.3)
    return render.figure_to_data_uri(fig)


def render_history(nights: List[Dict], root: str, updated: str) -> str:
    """The page, from history.json's nights (oldest first): charts of the nights with
    figures, and a table of every row, damaged nights and failed runs included."""
    scored = [n for n in nights if n.get('status') not in (DAMAGED, FAILED)]
    changes = model_changes(scored)
    shown = columns()
    charts = []
    for column in shown:
        uri = _chart(scored, column['key'], column['title'], changes)
        if uri:
            charts.append({'key': column['key'], 'title': column['title'], 'uri': uri})
    return render.render_template('history.html', nights=nights, charts=charts, root=root,
                                  updated=updated, changes=[scored[i]['date'] for i in changes],
                                  columns=shown)
