"""The history of the nights: ``OUTPUT/history.json`` and ``OUTPUT/index.html`` of a nightly root.

Rebuilt after every night from the partitions' manifests (small files; the predictions are
never read again): per date, the reviews scored, the rejected share, the nightly measures of
``analysis.measures`` (the positive rate, the vocabulary coverage, the accuracy when the night
was labelled), the PSI of the score distribution against the night before, the model version
used, and the alerts. Both files are replaced atomically, under ``OUTPUT/history.lock``, so
two nights finishing at once never leave a mix of the two.
"""

import fcntl
import json
import logging
import os
import uuid
from typing import Dict, List, Optional

from analysis import measures
from analysis.history_report import PSI, REJECTED_SHARE, SCORED, render_history
from pipeline.nightly import PARTITION_PREFIX, partition_dates
from pipeline.runtime.guard import NIGHTLY_FILES
from transforms import jsonio, schema

_LOG = logging.getLogger(__name__)
# What a nightly root may hold beside its partitions (the guard knows them by these names).
HISTORY_FILE, INDEX_FILE, LOCK_FILE = NIGHTLY_FILES


def night(date: str, manifest: Dict) -> Dict:
    """One night's row of the history, from its partition's manifest."""
    counts = manifest.get('counts') or {}
    metrics = manifest.get('metrics') or {}
    model = manifest.get('model') or {}
    read = counts.get('read') or 0
    version = model.get('version')
    return {
        'date': date, 'status': manifest.get('status'),
        SCORED: counts.get('predicted'),
        REJECTED_SHARE: (counts.get('rejected', 0) / read) if read else None,
        PSI: (manifest.get('drift') or {}).get('psi'),
        **{m.key: metrics.get(m.key) for m in measures.nightly()},
        'model': {'path': model.get('path'), 'version': version,
                  'created': model.get('created')},
        'model_label': f'v{version}' if version is not None else os.path.basename(
            (model.get('path') or '').rstrip('/')),
        'alerts': list(manifest.get('drift_alerts') or []),
    }


def gather(root: str) -> List[Dict]:
    """Every published night under ``root``, oldest first."""
    nights = []
    for date in partition_dates(root):
        manifest = jsonio.read_json_object(
            os.path.join(root, f'{PARTITION_PREFIX}{date}', schema.MANIFEST_FILE))
        if manifest is not None:
            nights.append(night(date, manifest))
    return nights


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
