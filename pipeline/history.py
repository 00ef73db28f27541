"""The history of the nights: ``ROOT/history.json`` and ``ROOT/index.html`` of a nightly root,
on a local disk or an object store (``gs://``).

Rebuilt after every night from the partitions' manifests (small files; the predictions are
never read again): per date, the reviews scored, the rejected share, the nightly measures of
``analysis.measures`` (the positive rate, the vocabulary coverage, the accuracy when the night
was labelled), the PSI of the score distribution against the night before, the model version
used, and the alerts; a damaged night and a failed run each get a row saying so (one
damaged manifest never stops the rebuild).

Two nights finishing at once never leave a mix of the two, nor lose a night:

- Each file is replaced whole (``publish.replace_file``): on a local disk a temporary file
  renamed, on an object store one upload, which a reader finds whole or not at all.
- That is not enough: a rebuild lists the partitions, then writes. Two rebuilds that each
  listed before the other's night was published would each write a history missing a night,
  and the last to write wins. A compare-and-swap on ``history.json`` would make the later one
  list again, but could not keep ``index.html`` in step with it. So a rebuild takes
  ``ROOT/history.lock`` after its own night is published, and lists and writes both files
  while it holds it: the last rebuild to hold the lock lists after every night whose rebuild
  came before, and the two files always come from one listing.
- On a local disk the lock is an ``flock``, which a rebuild waits for. On an object store it
  is the lease object of ``guard.OutputLock`` (``pipeline/runtime/lease.py``), which a rebuild
  waits for by trying again every second, for up to ``WAIT_S``: a live holder keeps it for
  seconds, and the lease of a holder killed on another machine ends after ``LEASE_S``. A
  rebuild that stalled past its lease and lost it writes nothing more. One that could not
  get the lock in time leaves the history as it was and says so; the next rebuild lists
  every night again, this one included.
"""

import contextlib
import fcntl
import json
import logging
import os
import time
from typing import Callable, Dict, Iterator, List, Optional

from apache_beam.io.filesystems import FileSystems

from analysis import measures
from analysis.history_report import DAMAGED, FAILED, PSI, REJECTED_SHARE, SCORED, render_history
from pipeline.nightly import (PARTITION_PREFIX, failed_runs, partition_dates, partition_path,
                              read_manifest, read_object)
from pipeline.runtime import object_store, publish
from pipeline.runtime.guard import LOCK_SUFFIX, NIGHTLY_FILES, OutputLock
from pipeline.runtime.lease import LEASE_S
from transforms import jsonio, schema
from transforms.errors import OutputLocked

_LOG = logging.getLogger(__name__)
# What a nightly root may hold beside its partitions (the guard knows them by these names).
HISTORY_FILE, INDEX_FILE, LOCK_FILE = NIGHTLY_FILES
# How long a rebuild on an object store waits for the lock: past the lease of a dead holder.
WAIT_S = 2 * LEASE_S
_RETRY_S = 1.0


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
    """Every night under ``root`` (local or on an object store), oldest first: the published
    ones (a damaged one as status 'damaged' with its problem), and each failed run kept as
    ``dt=D.failed-*`` (status 'failed', with the folder its output went to)."""
    nights = []
    for date in partition_dates(root):
        folder = f'{PARTITION_PREFIX}{date}'
        manifest, problem = read_manifest(partition_path(root, date))
        if manifest is not None:
            try:
                nights.append(night(date, manifest))
                continue
            except (ValueError, AttributeError) as e:
                problem = f'{schema.MANIFEST_FILE} is malformed ({e})'
        _LOG.warning('History: night %s is damaged (%s)', date, problem)
        nights.append(_other(date, DAMAGED, folder, problem))
    for date, folder in failed_runs(root):
        manifest, _ = read_object(FileSystems.join(root, folder, schema.MANIFEST_FILE))
        why = (manifest or {}).get('error')
        nights.append(_other(date, FAILED, folder, str(why or 'failed')))
    return sorted(nights, key=lambda n: (n['date'], n['status'] == FAILED, n.get('output', '')))


def _write(root: str, nights: List[Dict], still_held: Callable[[], None]) -> str:
    """Writes history.json, then index.html, of ``nights``; ``still_held`` raises when the
    lock was lost. Returns the page's path."""
    updated = jsonio.utc_now()
    record = json.dumps({'root': root, 'updated': updated, 'nights': nights}, indent=2,
                        sort_keys=True, default=str) + '\n'
    page = FileSystems.join(root, INDEX_FILE)
    files = [(FileSystems.join(root, HISTORY_FILE), record, 'application/json'),
             (page, render_history(nights, root, updated), 'text/html; charset=utf-8')]
    for path, text, content_type in files:
        still_held()
        publish.replace_file(path, text.encode('utf-8'), content_type)
    return page


@contextlib.contextmanager
def _object_store_lock(root: str) -> Iterator[OutputLock]:
    """``ROOT/history.lock`` on an object store, waited for up to ``WAIT_S`` (OutputLocked
    past it)."""
    lock = OutputLock(FileSystems.join(root, LOCK_FILE[:-len(LOCK_SUFFIX)]))
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            lock.acquire()
            break
        except OutputLocked:
            if time.monotonic() > deadline:
                raise
            time.sleep(_RETRY_S)
    try:
        yield lock
    finally:
        lock.release()


def write_history(root: str) -> Optional[str]:
    """Rebuilds history.json and index.html of a nightly root, local or on an object store
    (see the module doc); returns the page's path. None, and nothing written, for a local
    root that is no folder, an object store's root that holds no night, or an object
    store's lock not had in time (a warning says so)."""
    if object_store.is_local(root):
        if not os.path.isdir(root):
            return None
        with open(os.path.join(root, LOCK_FILE), 'a') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # a short wait for a night finishing at once
            nights = gather(root)
            page = _write(root, nights, lambda: None)
    else:
        root = root.rstrip('/')
        try:
            with _object_store_lock(root) as lock:
                nights = gather(root)
                if not nights:
                    return None
                page = _write(root, nights, lock.check)
        except OutputLocked as e:
            _LOG.warning('The history of %s was not rebuilt (%s); the next night\'s rebuild '
                         'shows this night too', root, e)
            return None
    _LOG.info('History of %d night(s): %s', len(nights), page)
    return page
