"""The folder of ``imdb-sentiment run``: one subfolder per step, and what its index shows.

``summary`` reads the steps' manifests and small JSON files for ``analysis.run_index`` to
render; ``index_link`` tells a score report whether it lives in a run folder.
"""

import base64
import json
import os
from typing import Dict, List, Optional

from analysis import measures
from pipeline.jobs.explore import STATS_FILE as EXPLORE_STATS_FILE
from transforms import schema

EXPLORE_DIR = 'explore'
PREPROCESS_DIR = 'preprocess'
MODEL_DIR = 'model'
SCORE_DIR = 'score'          # score/<set name>/ per scored set
EVALUATE_DIR = 'evaluate'    # run --models: the gate's comparison with the champion
INDEX_FILE = 'index.html'

# What each held-out set of a run is, for the reader: which choices were made on it.
MEASURED = {
    schema.TEST_PREFIX: 'test split of preprocess: never used for training, early stopping '
                        'or the fusion',
    schema.EVAL_PREFIX: 'eval split of preprocess: early stopping watched it and the fusion '
                        'was fitted on it, so it reads optimistic',
}
# The eval split once the model was refitted on it (the manifest's ``eval_fit``).
EVAL_FIT = ('eval split of preprocess: a training fit, not a measure of accuracy (the model '
            'was refitted on it)')


def _json(path: str) -> Optional[Dict]:
    if not os.path.exists(path):
        return None
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def _link(out: str, relative: str) -> Optional[str]:
    return relative if os.path.exists(os.path.join(out, relative)) else None


def _png_uri(path: str) -> str:
    """Plots are embedded, like every report's charts: the page works from file:// too."""
    with open(path, 'rb') as f:
        return 'data:image/png;base64,' + base64.b64encode(f.read()).decode('ascii')


def _order(name: str) -> tuple:
    """The test split first (the headline), then eval, then any other scored set."""
    return ({schema.TEST_PREFIX: 0, schema.EVAL_PREFIX: 1}.get(name, 2), name)


def _scores(out: str, eval_fit: bool = False) -> List[Dict]:
    folder = os.path.join(out, SCORE_DIR)
    measured = dict(MEASURED, **({schema.EVAL_PREFIX: EVAL_FIT} if eval_fit else {}))
    found = []
    for name in sorted(os.listdir(folder), key=_order) if os.path.isdir(folder) else []:
        metrics = _json(os.path.join(folder, name, schema.METRICS_FILE))
        manifest = _json(os.path.join(folder, name, schema.MANIFEST_FILE))
        if metrics is None or manifest is None:
            continue
        inputs = ', '.join(i['path'] for i in manifest.get('inputs', []))
        found.append({'name': name, 'report': _link(out, f'{SCORE_DIR}/{name}/{schema.REPORT_FILE}'),
                      measures.SCORED.key: measures.SCORED.value(metrics),
                      **{m.key: m.value(metrics) for m in measures.indexed()},
                      'measured': measured.get(name, 'data scored with the model: ' + inputs),
                      'training_fit': eval_fit and name == schema.EVAL_PREFIX,
                      'inputs': inputs})
    return found


def summary(out: str) -> Dict:
    """What the index shows of each step, read from the run folder."""
    explore = _json(os.path.join(out, EXPLORE_DIR, EXPLORE_STATS_FILE))
    preprocess = _json(os.path.join(out, PREPROCESS_DIR, schema.MANIFEST_FILE))
    model = _json(os.path.join(out, MODEL_DIR, schema.MANIFEST_FILE))
    plots_dir = os.path.join(out, MODEL_DIR, schema.MODEL_PLOTS_DIR)
    plots = sorted(p for p in os.listdir(plots_dir)
                   if p.endswith('.png')) if os.path.isdir(plots_dir) else []
    return {
        'explore': explore and {'report': _link(out, f'{EXPLORE_DIR}/{schema.REPORT_FILE}'),
                                'reviews': explore.get('reviews', {})},
        'preprocess': preprocess and {
            'counts': preprocess['counts'], 'vocabulary': preprocess.get('vocabulary', {}),
            'manifest': _link(out, f'{PREPROCESS_DIR}/{schema.MANIFEST_FILE}')},
        'model': model and {'validation': model.get('validation', {}),
                            'headline': model.get('headline'),
                            'eval_fit': 'eval_fit' in model,
                            'curves_of': ('LSTM branch' if model.get('stacking') else 'model'),
                            'fusion': (model.get('stacking') or {}).get('fusion'),
                            'best_epoch': model.get('best_epoch'),
                            'epochs_run': model.get('epochs_run'),
                            'plots': [(p[:-4].replace('_', ' '), _png_uri(
                                os.path.join(plots_dir, p))) for p in plots],
                            'manifest': _link(out, f'{MODEL_DIR}/{schema.MANIFEST_FILE}')},
        'scores': _scores(out, eval_fit=bool(model and 'eval_fit' in model)),
        'gate': _json(os.path.join(out, EVALUATE_DIR, schema.VERDICT_FILE)),
    }


def index_link(output: Optional[str]) -> Optional[str]:
    """``../../index.html`` when a score output lives in a run folder (DIR/score/<name>/)."""
    output = (output or '').rstrip('/')
    if not output or '://' in output:
        return None
    folder = os.path.dirname(output)
    if os.path.basename(folder) != SCORE_DIR:
        return None
    try:
        is_run = (_json(os.path.join(os.path.dirname(folder), schema.MANIFEST_FILE)) or {}).get(
            'job') == 'run'
    except (OSError, ValueError):
        return None
    return '../../' + INDEX_FILE if is_run else None
