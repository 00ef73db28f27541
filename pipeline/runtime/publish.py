"""Publishing a job's output: staged writing, then an atomic swap into place.

A job writes into ``<output>.partial-<id>`` and publishes by renaming it over
``<output>`` only at the end, so a failed or interrupted run never leaves a
half-written result that looks complete. The manifest is written last.
"""

import logging
import os
import re
import shutil
import uuid
from typing import Iterable

from apache_beam.io.filesystems import FileSystems

from pipeline.runtime.guard import OutputLock
from transforms.errors import OutputError

_LOG = logging.getLogger(__name__)


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
