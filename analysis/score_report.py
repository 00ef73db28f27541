"""report.html of a scoring run: pure rendering from the metrics and error examples.

Review text is user-written input: it reaches the page only through the
autoescaping template, and the page's content security policy forbids scripts.
"""

import os
from typing import Dict, List, Optional, Tuple

from analysis import measures, render, score_charts
from transforms import schema

# A review longer than this many characters shows its start and folds the rest.
FOLD_CHARS = 700


def _split_at(piece: Dict, cut: int) -> Tuple[Dict, Dict]:
    """An unshaded piece cut at the first space at or after ``cut``, never inside a tag."""
    text = piece['text']
    at = text.find(' ', cut)
    at = len(text) if at < 0 else at
    if text.rfind('<', 0, at) > text.rfind('>', 0, at):  # inside <br />: cut after it
        end = text.find('>', at)
        at = len(text) if end < 0 else end + 1
    return dict(piece, text=text[:at]), dict(piece, text=text[at:])


def fold(pieces: List[Dict], limit: int = FOLD_CHARS) -> Tuple[List[Dict], List[Dict]]:
    """A review's pieces ({text, weight}) -> (shown, folded): the first ``limit``
    characters or so, and the rest, for a ``<details>`` ("show more") without script."""
    shown, used = [], 0
    for i, piece in enumerate(pieces):
        if used + len(piece['text']) > limit:
            if piece['weight'] is None:
                head, tail = _split_at(piece, max(limit - used, 0))
                rest = [tail] if tail['text'] else []
                return shown + ([head] if head['text'] else []), rest + pieces[i + 1:]
            return shown, pieces[i:]
        shown.append(piece)
        used += len(piece['text'])
    return shown, []


def measured_on(manifest: Dict) -> str:
    """The line that says which data a report measured, and whether any choice was made on it."""
    counts = manifest.get('counts', {})
    n = counts.get('predicted', counts.get('accepted', 0)) or 0
    inputs = (manifest.get('options') or {}).get('input') or [
        i['path'] for i in manifest.get('inputs', [])]
    folders = {os.path.basename(os.path.dirname(p.rstrip('/'))) for p in inputs}
    if folders == {schema.TEST_REVIEWS_DIR}:
        return (f'the test split of preprocess, {n:,} reviews, never used for training, '
                'early stopping or the fusion.')
    if folders == {schema.EVAL_REVIEWS_DIR}:
        if (manifest.get('model') or {}).get('eval_fit'):
            return (f'the eval split of preprocess, {n:,} reviews: a training fit, not a '
                    'measure of accuracy. The model was refitted on these reviews after '
                    'early stopping and the fusion had used them; the test split is the '
                    'honest figure.')
        return (f'the eval split of preprocess, {n:,} reviews. Early stopping watched it and '
                'the fusion of the two branches was fitted on it, so its accuracy is '
                'optimistic; the test split is the honest figure.')
    trained = (manifest.get('model') or {}).get('preprocess_inputs') or []
    seen = ', '.join(i.get('path', '') for i in trained)
    return (f'{n:,} reviews of {", ".join(inputs)}' +
            (f' (the model learnt from {seen}: any of those reviews among these would read '
             'optimistic).' if seen else '.'))


def _examples(errors: Dict[str, List[Dict]]) -> Dict[str, List[Dict]]:
    """Each error with its text as pieces, folded after FOLD_CHARS."""
    shown = {}
    for kind, rows in errors.items():
        shown[kind] = []
        for e in rows:
            pieces = e.get('tokens') or [{'text': e.get(schema.REVIEW_KEY, ''), 'weight': None}]
            head, tail = fold(pieces)
            weights = [abs(p['weight']) for p in pieces if p['weight'] is not None]
            # Never below 0.02: a review whose every token moved P(positive) by less than
            # that stays pale instead of its noise being painted in full colour.
            scale = max(weights + [0.02])
            shown[kind].append(dict(e, head=head, tail=tail, scale=scale))
    return shown


def shade(weight: float, scale: float = 0.2) -> str:
    """A token's background: green when it pushed towards positive, red towards negative;
    as strong as its weight against ``scale`` (the review's largest weight, so that the
    tokens that mattered most in a review always show)."""
    alpha = min(abs(float(weight)) / max(scale, 1e-9) * 0.8, 0.8)
    rgb = '0,150,0' if weight > 0 else '220,0,0'
    return f'rgba({rgb},{alpha:.2f})'


def headline(metrics: Dict) -> List[Tuple[str, str]]:
    """(name, value) of every headline measure the run measured."""
    return [(m.label, m.format(m.value(metrics))) for m in measures.headline()
            if m.value(metrics) is not None]


def drift_rows(drift: Dict) -> List[Tuple[str, str, str, str]]:
    """(name, previous night, this night, change) of every measure drift.json compares that
    this night measured: the nightly measures, then the reviews scored."""
    rows = []
    for m in [*measures.nightly(), measures.SCORED]:
        found = drift.get(m.key)
        if found and found['current'] is not None:
            rows.append((m.label, m.format(found['previous']), m.format(found['current']),
                         m.format(found['change'], signed=True)))
    return rows


def render_score_report(metrics: Dict, errors: Dict[str, List[Dict]], manifest: Dict,
                        drift: Optional[Dict] = None, index_link: Optional[str] = None) -> str:
    """The self-contained HTML page (PNG charts embedded); ``drift`` adds the section
    comparing a nightly run with the previous night, ``index_link`` a link back to the
    run's index page."""
    charts = [(name, render.figure_to_data_uri(fig))
              for name, fig in score_charts.charts(metrics).items()]
    inputs = ', '.join(i['path'] for i in manifest.get('inputs', []))
    return render.render_template(
        'score.html', shade=shade, title=inputs, created=manifest.get('created', ''),
        counts=manifest['counts'], headline=headline(metrics),
        report=metrics.get('classification_report'), charts=charts, errors=_examples(errors),
        drift=drift, drift_rows=drift_rows(drift) if drift else [],
        measured_on=measured_on(manifest),
        index_link=index_link)
