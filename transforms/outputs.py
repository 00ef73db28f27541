"""Job outputs: staged writing, atomic publishing, and the manifest.

A job writes into ``<output>.partial-<id>`` and publishes by renaming it over
``<output>`` only at the end, so a failed or interrupted run never leaves a
half-written result that looks complete. The manifest is written last.
"""

import datetime
import json
import logging
import os
import platform
import re
import shutil
import uuid
from importlib import metadata
from typing import Dict, Iterable, List

from apache_beam.io.filesystems import FileSystems

from transforms.errors import OutputError
from transforms.output_guard import OutputLock

_PACKAGES = ('imdb-sentiment', 'apache-beam', 'tensorflow', 'tensorflow-transform',
             'tfx-bsl', 'keras', 'numpy', 'pandas', 'scikit-learn')
_LOG = logging.getLogger(__name__)


def versions() -> Dict[str, str]:
    """Python and the versions of the libraries that decide the results."""
    found = {'python': platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')


def write_json(path: str, data: Dict) -> None:
    with FileSystems.create(path) as f:
        f.write((json.dumps(data, indent=2, sort_keys=True, default=str) + '\n').encode('utf-8'))


def read_json(path: str) -> Dict:
    with FileSystems.open(path) as f:
        return json.loads(f.read().decode('utf-8'))


def read_json_lines(pattern: str) -> List[Dict]:
    """All JSON rows of the small files matching ``pattern`` (for job statistics).

    Split on '\\n' alone: str.splitlines() would also split inside a review at U+0085,
    U+2028 or U+2029, which JSON leaves unescaped."""
    rows = []
    for m in FileSystems.match([pattern])[0].metadata_list:
        with FileSystems.open(m.path) as f:
            text = f.read().decode('utf-8')
        rows.extend(json.loads(line) for line in text.split('\n') if line.strip())
    return rows


def read_stats(work_dir: str, stats_dir: str = '_stats') -> Dict[str, List[Dict]]:
    """The small statistics files a pipeline wrote under ``work_dir/_stats`` as
    {file name base: rows}; the folder is removed, its content now lives in the manifest."""
    folder = FileSystems.join(work_dir, stats_dir)
    found = {}
    for m in FileSystems.match([FileSystems.join(folder, '*')])[0].metadata_list:
        name = os.path.basename(m.path).split('-')[0].split('.')[0]
        found.setdefault(name, []).extend(read_json_lines(m.path))
    _remove(folder)
    return found


def input_entries(specs, stats_rows: List[Dict]) -> List[Dict]:
    """The manifest's inputs block: each input's path and format with its files, rows, sha256."""
    by_path = {r['path']: r for r in stats_rows}
    return [dict({k: v for k, v in by_path.get(s.path, {}).items() if k != 'path'},
                 path=s.path, format=s.format) for s in specs]


def _is_local(path: str) -> bool:
    return '://' not in path


# What StagedOutput leaves beside the output while it runs: <output>.partial-<8 hex>
# (the staging folder) and, for a moment while publishing, <output>.old-<8 hex>.
_LEFTOVER = re.compile(r'\.(partial|old)-[0-9a-f]{8}')


class StagedOutput:
    """Context manager for a job's output folder.

    Inside the ``with``, write under ``.path``; call ``publish()`` when every
    file is complete. Leaving the block without publishing removes the staging
    folder; an earlier result at the final path is replaced only by a published one.
    The output's lock is held throughout, so the staging folders that killed runs
    left beside it are known to be dead and are removed on entry.
    """

    def __init__(self, final_path: str):
        self.final_path = final_path.rstrip('/')
        self.path = f'{self.final_path}.partial-{uuid.uuid4().hex[:8]}'
        self._published = False
        self._lock = OutputLock(self.final_path)

    def __enter__(self) -> 'StagedOutput':
        parent = os.path.dirname(self.final_path)
        try:
            if _is_local(self.path) and parent:
                os.makedirs(parent, exist_ok=True)
            self._lock.acquire()
        except OSError as e:
            raise OutputError(f'cannot write {self.final_path}: {e.strerror or e}') from None
        try:
            self._remove_leftovers()
            FileSystems.mkdirs(self.path)
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            if not self._published:
                _remove(self.path)
        finally:
            self._lock.release()

    def _remove_leftovers(self) -> None:
        if not _is_local(self.final_path):
            return
        parent = os.path.dirname(os.path.abspath(self.final_path))
        base = os.path.basename(self.final_path)
        stale = [os.path.join(parent, n) for n in os.listdir(parent)
                 if n.startswith(base) and _LEFTOVER.fullmatch(n[len(base):])]
        for path in stale:
            _LOG.warning('Removing %s, left by an earlier run of this output that was killed',
                         path)
            shutil.rmtree(path, ignore_errors=True)

    def publish(self) -> None:
        if _is_local(self.final_path):
            old = None
            if os.path.exists(self.final_path):
                old = f'{self.final_path}.old-{uuid.uuid4().hex[:8]}'
                os.rename(self.final_path, old)
            os.rename(self.path, self.final_path)
            if old:
                shutil.rmtree(old, ignore_errors=True)
        else:
            # Object stores have no folder rename: move file by file, the manifest last.
            _remove(self.final_path)
            files = sorted(m.path for m in FileSystems.match([self.path + '/**'])[0].metadata_list)
            files.sort(key=lambda p: p.endswith('manifest.json'))
            FileSystems.rename(files, [self.final_path + p[len(self.path):] for p in files])
        self._published = True
        _LOG.info('Wrote %s', self.final_path)


def _remove(path: str) -> None:
    if _is_local(path):
        shutil.rmtree(path, ignore_errors=True)
    elif FileSystems.exists(path):
        FileSystems.delete([path])


def remove_paths(paths: Iterable[str]) -> None:
    for p in paths:
        _remove(p)
