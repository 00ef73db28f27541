"""The nights side by side: OUTPUT/index.html of a nightly root, pure rendering of the
history the launcher gathered from the partitions' manifests (``pipeline.nightly``).

One chart per measure over the dates, a dashed line where the model changed, and a table of
every night with its alerts. Charts are embedded PNGs; the page runs no script.
"""

from typing import Dict, List, Optional

from analysis import render

# history.json key -> the chart's title (and the axis' format).
MEASURES = (('scored', 'reviews scored', '{:,.0f}'), ('rejected_share', 'rejected share', '{:.3f}'),
            ('positive_rate', 'positive rate', '{:.3f}'), ('psi', 'score PSI against the night before', '{:.3f}'),
            ('vocabulary_coverage', 'vocabulary coverage', '{:.3f}'),
            ('accuracy', 'accuracy (labelled nights)', '{:.3f}'))


def model_changes(nights: List[Dict]) -> List[int]:
    """Indexes of the nights whose model differs from the night before's."""
    return [i for i in range(1, len(nights))
            if nights[i].get('model') != nights[i - 1].get('model')]


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
    """The page, from history.json's nights (oldest first)."""
    changes = model_changes(nights)
    charts = []
    for key, title, _ in MEASURES:
        uri = _chart(nights, key, title, changes)
        if uri:
            charts.append({'key': key, 'title': title, 'uri': uri})
    return render.render_template('history.html', nights=nights, charts=charts, root=root,
                                  updated=updated, changes=[nights[i]['date'] for i in changes],
                                  formats={k: f for k, _, f in MEASURES})
