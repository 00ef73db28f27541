"""report.html of the model gate: pure rendering of the comparison and the verdict.

Model paths and input names are user input: they reach the page only through the
autoescaping template, under a content security policy that allows no script.
"""

from typing import Dict, List, Optional

from analysis import measures, render


def _accuracy(value: Optional[float], signed: bool = False) -> str:
    """A slice's accuracy, or its change, as every page writes an accuracy."""
    return measures.ACCURACY.format(value, signed)


def rows(comparison: Dict) -> List[Dict]:
    """The side-by-side table, each value written as its measure is, each change marked
    better or worse by its measure's direction."""
    found = []
    for row in comparison['headline']:
        m = measures.named(row['measure'])
        direction = ''
        if row['delta'] and m.higher_is_better is not None:
            direction = 'better' if (row['delta'] > 0) == m.higher_is_better else 'worse'
        found.append(dict(row, name=m.label, direction=direction, shown={
            'candidate': m.format(row['candidate']), 'baseline': m.format(row['baseline']),
            'delta': m.format(row['delta'], signed=True)}))
    return found


def render_gate_report(comparison: Dict, verdict: Dict, manifest: Dict) -> str:
    return render.render_template(
        'gate.html', comparison=comparison, verdict=verdict, manifest=manifest,
        rows=rows(comparison), accuracy=_accuracy,
        inputs=', '.join(i['path'] for i in manifest.get('inputs', [])))
