"""The score job's launcher side: model checks, and folding the pipeline's small
summaries into metrics.json, report.html and manifest.json."""

import os
from typing import Dict, List, Optional, Sequence

from apache_beam.io.filesystems import FileSystems

from analysis import drift, metrics
from transforms import outputs
from transforms import features
from transforms.errors import InputError, ModelError
from transforms.inputs import CSV, InputSpec

ERROR_KINDS = ('false_positives', 'false_negatives')
_HEADLINE = ('accuracy', 'roc_auc', 'average_precision', 'log_loss', 'positive_rate',
             'vocabulary_coverage')
DRIFT_FILE = 'drift.json'


def check_model(model_dir: str, flag: str = '--model') -> None:
    """A usage error (exit 2) for a folder that is not a complete export."""
    from transforms.inference import export_problem
    problem = export_problem(model_dir)
    if problem:
        raise ModelError(f'{flag} {model_dir}: {problem}; '
                         'is it the output folder of `imdb-sentiment train`?')


def check_ratings(path: Optional[str], ratings_for: Optional[str],
                  specs: Sequence[InputSpec]) -> Optional[int]:
    """A usage error (exit 2) for a missing or malformed --ratings file, or a --ratings-for
    that names no input file, before the job starts; else how many ratings it gives."""
    from transforms.ratings import check_ratings_file
    from transforms.split import SideFileFormatError
    if not path:
        if ratings_for:
            raise InputError('--ratings-for needs --ratings')
        return None
    if not FileSystems.exists(path):
        raise InputError(f'--ratings {path}: no such file')
    try:
        count = check_ratings_file(path, ratings_for)
    except (SideFileFormatError, UnicodeDecodeError) as e:
        raise InputError(f'--ratings {path}: {e}') from None
    if ratings_for:
        names = {os.path.basename(f) for s in specs if s.format == CSV for f in s.files}
        if ratings_for not in names:
            raise InputError(f'--ratings-for {ratings_for}: no input CSV file has that name '
                             f'(inputs: {", ".join(sorted(names)) or "none"})')
    return count


def _model_manifest(model_dir: str) -> Dict:
    path = FileSystems.join(model_dir, features.MANIFEST_FILE)
    if not FileSystems.exists(path):
        return {'path': model_dir}
    m = outputs.read_json(path)
    return {'path': model_dir, 'created': m.get('created'), 'validation': m.get('validation'),
            'preprocess_inputs': m.get('preprocess', {}).get('manifest', {}).get('inputs')}


def error_examples(stats: Dict[str, List[Dict]]) -> Dict[str, List[Dict]]:
    """The reported false positives/negatives, most confident first."""
    return {kind: sorted(stats.get(kind, []), key=lambda r: r[features.PROBABILITY_KEY],
                         reverse=kind == 'false_positives')
            for kind in ERROR_KINDS}


def _drift(result: Dict, date: str, previous: str) -> Dict:
    """drift.json against the partition ``previous`` (an earlier night's output)."""
    from pipeline.nightly import PARTITION_PREFIX
    earlier = outputs.read_json(FileSystems.join(previous, features.METRICS_FILE))
    previous_date = os.path.basename(previous.rstrip('/'))[len(PARTITION_PREFIX):]
    return drift.compare(result, earlier, date, previous_date)


def finish(work_dir: str, stats: Dict[str, List[Dict]], manifest: Dict, job_args,
           model_dir: Optional[str] = None, previous: Optional[str] = None) -> None:
    """Writes metrics.json, report.html and drift.json (nightly runs with an earlier night)
    into ``work_dir`` and the score job's fields into ``manifest`` (see pipeline.launcher)."""
    from analysis.score_report import render_score_report
    model_dir = model_dir or job_args.model
    manifest['counts']['predicted'] = manifest['counts']['accepted']
    result = metrics.summarize(stats['summary'][0])
    for row in stats.get('coverage', []):
        result['vocabulary_coverage'] = (row['known_tokens'] / row['tokens']
                                         if row['tokens'] else None)
    outputs.write_json(os.path.join(work_dir, features.METRICS_FILE), result)
    date = getattr(job_args, 'date', None)
    found_drift = _drift(result, date, previous) if date and previous else None
    if found_drift:
        outputs.write_json(os.path.join(work_dir, DRIFT_FILE), found_drift)
        manifest['drift_alerts'] = found_drift['alerts']
    manifest.update(model=_model_manifest(model_dir), date=date, previous_night=previous,
                    metrics={k: result[k] for k in _HEADLINE if result.get(k) is not None})
    html = render_score_report(result, error_examples(stats), manifest, found_drift)
    with FileSystems.create(os.path.join(work_dir, features.REPORT_FILE)) as f:
        f.write(html.encode('utf-8'))
