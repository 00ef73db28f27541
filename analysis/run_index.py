"""DIR/index.html of `imdb-sentiment run`: one page that links every step's report.

Pure rendering of what the run command found in its folder (the steps' manifests and
small JSON files, gathered by ``pipeline.jobs.run_folder``); links are relative, so the run
folder can be moved or archived whole.
"""

from typing import Dict, Optional

from analysis import measures, render
from analysis.measures import ACCURACY, ROC_AUC, SCORED
from transforms import schema


def render_index(manifest: Dict, found: Dict) -> str:
    """The page, from the run's manifest and what ``pipeline.jobs.run_folder.summary``
    found in its folder."""
    # The headline is never the eval split while another labelled set was scored, and
    # never a training fit (a model refitted on eval): then the model's cross-validated figure.
    labelled = sorted((s for s in found['scores'] if s.get(ACCURACY.key) is not None
                       and not s.get('training_fit')),
                      key=lambda s: s['name'] == schema.EVAL_PREFIX)
    headline = labelled[0] if labelled else _model_headline(found.get('model'))
    return render.render_template('index.html', run=manifest, found=found, headline=headline,
                                  measures=measures.indexed(), accuracy=ACCURACY)


def _model_headline(model) -> Optional[Dict]:
    own = (model or {}).get('headline')
    if not own:
        return None
    return {ACCURACY.key: own['accuracy'], ROC_AUC.key: None, SCORED.key: None,
            'measured': own['measured_on'].removeprefix('the ')}
