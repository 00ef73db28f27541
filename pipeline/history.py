"""The history of the nights: ``OUTPUT/history.json`` and ``OUTPUT/index.html`` of a nightly root.

Rebuilt after every night from the partitions' manifests (small files; the predictions are
never read again): per date, the reviews scored, the rejected share, the nightly measures of
``analysis.measures`` (the positive rate, the vocabulary coverage, the accuracy when the night
was labelled), the PSI of the score distribution against the night before, the model version
used, and the alerts; a damaged night and a failed run each get a row saying so (one
damaged manifest never stops the rebuild). Both files are replaced atomically, under
``OUTPUT/history.lock``, so two nights finishing at once never leave a mix of the two.
"""

import fcntl
import json
import logging
import os
import uuid
from typing import Dict, List, Optional

from analysis import measures
from analysis.history_report import DAMAGED, FAILED, PSI, REJECTED_SHARE, SCORED, render_history
from pipeline.nightly import PARTITION_PREFIX, failed_runs, partition_dates, read_manifest
from pipeline.runtime.guard import NIGHTLY_FILES
from transforms import jsonio, schema

_LOG = logging.getLogger(__name__)
# What a nightly root may hold beside its partitions (the guard knows them by these names).
HISTORY_FILE, INDEX_FILE, LOCK_FILE = NIGHTLY_FILES


def _dict(value) -> Dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f'{type(value).__name__} where an object belongs')
    return value


def night(date: str, manifest: Dict) -> Dict:
    """One night's row of the history, from its partition's manifest (ValueError for a
    manifest whose blocks are not what the score job writes)."""
    counts, metrics = _dict(manifest.get('counts')), _dict(manifest.get('metrics'))
    model, found_drift = _dict(manifest.get('model')), _dict(manifest.get('drift'))
    read = counts.get('read') or 0
    version = model.get('version')
    try:
        rejected = (counts.get('rejected', 0) / read) if read else None
        alerts = [str(a) for a in manifest.get('drift_alerts') or []]
    except TypeError as e:
        raise ValueError(str(e)) from None
    figures = {SCORED: counts.get('predicted'), REJECTED_SHARE: rejected,
               PSI: found_drift.get('psi'),
               **{m.key: metrics.get(m.key) for m in measures.nightly()}}
    for key, value in figures.items():
        if value is not None and (isinstance(value, bool) or
                                  not isinstance(value, (int, float))):
            raise ValueError(f'{key} is {value!r}, not a number')
    return {
        'date': date, 'status': manifest.get('status'), 'link': f'{PARTITION_PREFIX}{date}/',
        **figures,
        'compared_with': found_drift.get('previous_date'),
        'skipped': [s.get('date') for s in found_drift.get('skipped') or []
                    if isinstance(s, dict)],
        'model': {'path': model.get('path'), 'version': version,
                  'created': model.get('created'), 'sha256': model.get('sha256')},
        'model_label': f'v{version}' if version is not None else os.path.basename(
            str(model.get('path') or '').rstrip('/')),
        'alerts': alerts,
    }


def _other(date: str, status: str, folder: str, problem: str) -> Dict:
    """The row of a night with no figures to show: one damaged, or a failed run."""
    return {'date': date, 'status': status, 'link': f'{folder}/', 'output': folder,
            'problem': problem, 'model': None, 'model_label': '', 'alerts': []}


def gather(root: str) -> List[Dict]:
    """Every night under ``root``, oldest first: the published ones (a damaged one as
    status 'damaged' with its problem), and each failed run kept as ``dt=D.failed-*``
    (status 'failed', with the folder its output went to)."""
    nights = []
    for date in partition_dates(root):
        folder = f'{PARTITION_PREFIX}{date}'
        manifest, problem = read_manifest(os.path.join(root, folder))
        if manifest is not None:
            try:
                nights.append(night(date, manifest))
                continue
            except (ValueError, AttributeError) as e:
                problem = f'{schema.MANIFEST_FILE} is malformed ({e})'
        _LOG.warning('History: night %s is damaged (%s)', date, problem)
        nights.append(_other(date, DAMAGED, folder, problem))
    for date, folder in failed_runs(root):
        manifest = jsonio.read_json_object(os.path.join(root, folder, schema.MANIFEST_FILE))
        why = (manifest or {}).get('error')
        nights.append(_other(date, FAILED, folder, str(why or 'failed')))
    return sorted(nights, key=lambda n: (n['date'], n['status'] == FAILED, n.get('output', '')))


def _replace(path: str, data: bytes) -> None:
    temporary = f'{path}.tmp-{uuid.uuid4().hex[:8]}'
    with open(temporary, 'wb') as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


def write_history(root: str) -> Optional[str]:
    """Rebuilds history.json and index.html of a local nightly root; returns the page's path
    (None for an object store, whose history is left to a later version)."""
    if '://' in root or not os.path.isdir(root):
        return None
    with open(os.path.join(root, LOCK_FILE), 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a short wait for a night finishing at once
        nights = gather(root)
        updated = jsonio.utc_now()
        _replace(os.path.join(root, HISTORY_FILE),
                 (json.dumps({'root': root, 'updated': updated, 'nights': nights},
                             indent=2, sort_keys=True, default=str) + '\n').encode('utf-8'))
        page = os.path.join(root, INDEX_FILE)
        _replace(page, render_history(nights, root, updated).encode('utf-8'))
    _LOG.info('History of %d night(s): %s', len(nights), page)
    return page
