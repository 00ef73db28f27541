"""DIR/index.html of `imdb-sentiment run`: one page that links every step's report.

Pure rendering from the manifests and small JSON files the steps wrote; links are
relative, so the run folder can be moved or archived whole.
"""

import base64
import json
import os
from typing import Dict, List, Optional

from analysis import render
from transforms import features


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


# What each held-out set of a run is, for the reader: which choices were made on it.
MEASURED = {
    features.TEST_PREFIX: 'test split of preprocess: never used for training, early stopping '
                          'or the fusion',
    features.EVAL_PREFIX: 'eval split of preprocess: early stopping watched it and the fusion '
                          'was fitted on it, so it reads optimistic',
}


def _order(name: str) -> tuple:
    """The test split first (the headline), then eval, then any other scored set."""
    return ({features.TEST_PREFIX: 0, features.EVAL_PREFIX: 1}.get(name, 2), name)


def _scores(out: str) -> List[Dict]:
    folder = os.path.join(out, features.RUN_SCORE_DIR)
    found = []
    for name in sorted(os.listdir(folder), key=_order) if os.path.isdir(folder) else []:
        metrics = _json(os.path.join(folder, name, features.METRICS_FILE))
        manifest = _json(os.path.join(folder, name, features.MANIFEST_FILE))
        if metrics is None or manifest is None:
            continue
        found.append({'name': name, 'report': _link(out, f'{features.RUN_SCORE_DIR}/{name}/{features.REPORT_FILE}'),
                      'scored': metrics.get('scored'), 'accuracy': metrics.get('accuracy'),
                      'roc_auc': metrics.get('roc_auc'),
                      'positive_rate': metrics.get('positive_rate'),
                      'measured': MEASURED.get(name, 'data scored with the model: ' + ', '.join(
                          i['path'] for i in manifest.get('inputs', []))),
                      'inputs': ', '.join(i['path'] for i in manifest.get('inputs', []))})
    return found


def summary(out: str) -> Dict:
    """What the index shows of each step, read from the run folder."""
    explore_dir, preprocess_dir, model_dir = (
        features.RUN_EXPLORE_DIR, features.RUN_PREPROCESS_DIR, features.RUN_MODEL_DIR)
    explore = _json(os.path.join(out, explore_dir, features.EXPLORE_STATS_FILE))
    preprocess = _json(os.path.join(out, preprocess_dir, features.MANIFEST_FILE))
    model = _json(os.path.join(out, model_dir, features.MANIFEST_FILE))
    plots_dir = os.path.join(out, model_dir, features.MODEL_PLOTS_DIR)
    plots = sorted(p for p in os.listdir(plots_dir)
                   if p.endswith('.png')) if os.path.isdir(plots_dir) else []
    return {
        'explore': explore and {'report': _link(out, f'{explore_dir}/{features.REPORT_FILE}'),
                                'reviews': explore.get('reviews', {})},
        'preprocess': preprocess and {
            'counts': preprocess['counts'], 'vocabulary': preprocess.get('vocabulary', {}),
            'manifest': _link(out, f'{preprocess_dir}/{features.MANIFEST_FILE}')},
        'model': model and {'validation': model.get('validation', {}),
                            'curves_of': ('LSTM branch' if model.get('stacking') else 'model'),
                            'fusion': (model.get('stacking') or {}).get('fusion'),
                            'best_epoch': model.get('best_epoch'),
                            'epochs_run': model.get('epochs_run'),
                            'plots': [(p[:-4].replace('_', ' '), _png_uri(
                                os.path.join(plots_dir, p))) for p in plots],
                            'manifest': _link(out, f'{model_dir}/{features.MANIFEST_FILE}')},
        'scores': _scores(out),
    }


def render_index(out: str, manifest: Dict) -> str:
    found = summary(out)
    # The headline is never the eval split while another labelled set was scored.
    labelled = sorted((s for s in found['scores'] if s['accuracy'] is not None),
                      key=lambda s: s['name'] == features.EVAL_PREFIX)
    return render.render_template('index.html', run=manifest, found=found,
                                  headline=labelled[0] if labelled else None)
