"""The score job's launcher side: model and movies-file checks, and folding the pipeline's
small summaries into metrics.json, report.html and manifest.json."""

import logging
import os
from typing import Dict, List, Optional, Sequence

from apache_beam.io.filesystems import FileSystems

from analysis import drift, measures, metrics
from analysis.score_report import render_score_report
from pipeline import model_lookup, nightly
from pipeline.jobs import run_folder
from transforms import features, jsonio, schema
from transforms.errors import InputError
from transforms.beam import movies
from transforms.beam.inputs import CSV, InputSpec
from transforms.beam.intake import ACCEPTED

_LOG = logging.getLogger(__name__)
FALSE_POSITIVES, FALSE_NEGATIVES = 'false_positives', 'false_negatives'
ERROR_KINDS = (FALSE_POSITIVES, FALSE_NEGATIVES)
DRIFT_FILE = 'drift.json'
# The manifest's name for the reviews the reconciliation counts as accepted: those predicted.
PREDICTED = 'predicted'


def check_movies(path: Optional[str], movies_for: Optional[str],
                 specs: Sequence[InputSpec]) -> Optional[int]:
    """A usage error (exit 2) for a missing or malformed --movies file, or a --movies-for that
    can name none of the reviews, before the job starts; else how many reviews it rates."""
    if not path:
        if movies_for:
            raise InputError('--movies-for needs --movies')
        return None
    found, count = movies.check_movies(path, movies_for)
    if found.rating is None:
        raise InputError(f'--movies {path}: no rating column; nothing to slice errors by')
    csvs = [s for s in specs if s.format == CSV]
    names = {os.path.basename(f) for s in csvs for f in s.files}
    # Ids <name>:<row> come from a file of that name, or from an input's own id column.
    if movies_for and movies_for not in names and not any(
            features.ID.csv in s.columns for s in csvs):
        raise InputError(f'--movies-for {movies_for}: no input CSV file has that name '
                         f'(inputs: {", ".join(sorted(names)) or "none"})')
    return count


def _model_manifest(model_dir: str) -> Dict:
    path = FileSystems.join(model_dir, schema.MANIFEST_FILE)
    if not FileSystems.exists(path):
        return {'path': model_dir}
    m = jsonio.read_json(path)
    # What the model says of itself; ``eval_fit`` (not ``validation``) once it was refitted
    # on its eval split, which a report of that split must then call training data.
    figures = {k: m[k] for k in ('headline', 'validation', 'eval_fit') if k in m}
    return dict(model_lookup.describe(model_dir), **figures,
                preprocess_inputs=m.get('preprocess', {}).get('manifest', {}).get('inputs'))


def error_examples(stats: Dict[str, List[Dict]]) -> Dict[str, List[Dict]]:
    """The reported false positives/negatives, most confident first."""
    return {kind: sorted(stats.get(kind, []), key=lambda r: r[schema.PROBABILITY_KEY],
                         reverse=kind == FALSE_POSITIVES)
            for kind in ERROR_KINDS}


def _drift(result: Dict, date: str, previous: nightly.Previous) -> Dict:
    """drift.json against the night ``previous`` (``nightly.previous_night``), naming the
    damaged nights it skipped."""
    earlier = jsonio.read_json(FileSystems.join(previous.path, schema.METRICS_FILE))
    found = drift.compare(result, earlier, date, previous.date)
    found.update(previous_created=previous.created,
                 skipped=[{'date': d, 'problem': p} for d, p in previous.skipped])
    return found


def _previous(root: Optional[str], date: Optional[str],
              previous: Optional[str]) -> Optional[nightly.Previous]:
    """The night drift compares with, looked up now, as the night is about to publish (a
    night another process published while this one ran counts); or the partition given."""
    if previous:
        return nightly.Previous(previous, os.path.basename(previous.rstrip('/'))[
            len(nightly.PARTITION_PREFIX):], None, [])
    if not (root and date):
        return None
    found = nightly.previous_night(root, date)
    if found.path is None:
        if found.skipped:
            _LOG.warning('No readable night before %s to compare with (damaged: %s)', date,
                         ', '.join(d for d, _ in found.skipped))
        return None
    return found


def finish(work_dir: str, stats: Dict[str, List[Dict]], manifest: Dict, job_args,
           model_dir: Optional[str] = None, previous: Optional[str] = None,
           root: Optional[str] = None) -> None:
    """Writes metrics.json, report.html and drift.json (nightly runs with an earlier night:
    the partition ``previous``, or the latest readable night under the nightly ``root``)
    into ``work_dir`` and the score job's fields into ``manifest`` (see pipeline.launcher)."""
    model_dir = model_dir or job_args.model
    manifest['counts'][PREDICTED] = manifest['counts'][ACCEPTED]
    result = metrics.summarize(stats['summary'][0], (stats.get('coverage') or [None])[-1])
    jsonio.write_json(os.path.join(work_dir, schema.METRICS_FILE), result)
    date = getattr(job_args, 'date', None)
    before = _previous(root, date, previous) if date else None
    found_drift = _drift(result, date, before) if before else None
    if found_drift:
        jsonio.write_json(os.path.join(work_dir, DRIFT_FILE), found_drift)
        manifest['drift_alerts'] = found_drift['alerts']
        manifest['drift'] = {k: found_drift[k] for k in ('previous_date', 'previous_created',
                                                          'skipped')}
        manifest['drift'].update(psi=found_drift['score_psi']['value'],
                                 psi_reading=found_drift['score_psi']['reading'])
    manifest.update(model=_model_manifest(model_dir), date=date,
                    previous_night=before.path if before else None,
                    metrics=measures.manifest_metrics(result))
    html = render_score_report(result, error_examples(stats), manifest, found_drift,
                               index_link=run_folder.index_link(job_args.output))
    with FileSystems.create(os.path.join(work_dir, schema.REPORT_FILE)) as f:
        f.write(html.encode('utf-8'))
