"""Publishing a job's output: staged writing, an atomic swap into place, and recovery.

The protocol, on a local filesystem (tested by killing the process at each of its steps):

1. The job writes into ``OUT.partial-<id>``; the manifest comes last, written to a temporary
   file and renamed: a staging folder with a ``manifest.json`` whose status is ok is complete.
2. Publishing a complete folder: with no ``OUT`` yet, one rename. Over an existing ``OUT``, one
   ``renameat2(RENAME_EXCHANGE)`` swaps the two folders, and the old output, now at the staging
   name, is removed. Where the filesystem has no exchange, ``OUT`` is renamed to
   ``OUT.old-<id>`` and the staging folder to ``OUT``: between those two renames ``OUT`` is
   missing, and step 3 puts it back.
3. On entry, under the output's lock and before anything is deleted, a run recovers what a
   killed run left: if ``OUT`` is missing, the newest complete ``.partial`` (a publish cut
   short) or else the newest complete ``.old`` is renamed to ``OUT``. Only then are the other
   leftovers removed, each first renamed to ``OUT.trash-<id>`` so that a half-deleted folder
   is never mistaken for an output.

So at every instant ``OUT`` holds the old or the new output whole, or the next run restores
one of them before it removes anything. A run that failed (too many rejects) is never
published over ``OUT``: ``publish_failed`` moves it to ``OUT.failed-<UTC time>``. Object
stores have no rename: there the lock is a lease object and publishing is committed by an
object created under a precondition, which the next run rolls forward
(``pipeline/runtime/object_publish.py``); the promise is the same.
"""

import ctypes
import ctypes.util
import datetime
import errno
import logging
import os
import re
import shutil
import uuid
from typing import Dict, Iterable, List, Optional

from pipeline.runtime import object_publish, object_store
from pipeline.runtime.guard import OutputLock
from transforms import jsonio
from transforms.errors import OutputError

_LOG = logging.getLogger(__name__)
MANIFEST = 'manifest.json'

# What StagedOutput leaves beside OUT: <OUT>.<kind>-<8 hex>.
LEFTOVER = re.compile(r'\.(partial|old|trash)-[0-9a-f]{8}')
FAILED = '.failed-'


# --- The filesystem steps a publish takes (one function each, so tests can stop at each) ----

_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_libc = None


def _renameat2(a: str, b: str, flags: int) -> Optional[bool]:
    """renameat2(a, b, flags): True when done; False when ``b`` exists (RENAME_NOREPLACE);
    None where the filesystem or the C library cannot."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library('c') or None, use_errno=True)
    if not hasattr(_libc, 'renameat2'):
        return None
    if _libc.renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
        return None
    if code in (errno.EEXIST, errno.ENOTEMPTY):
        return False
    raise OSError(code, os.strerror(code), a)


def _exchange(a: str, b: str) -> bool:
    """Swaps the two paths atomically; False where the filesystem cannot."""
    return bool(_renameat2(a, b, _RENAME_EXCHANGE))


def _rename_new(src: str, dst: str) -> bool:
    """Moves the folder ``src`` to ``dst`` only if ``dst`` does not exist (create-if-absent);
    False when it does. Where renameat2 cannot, an empty ``dst`` is reserved with mkdir, which
    fails when it exists, and ``src`` renamed over it (a rename may replace an empty folder)."""
    done = _renameat2(src, dst, _RENAME_NOREPLACE)
    if done is not None:
        return done
    try:
        os.mkdir(dst)
    except FileExistsError:
        return False
    _rename(src, dst)
    return True


def _rename(src: str, dst: str) -> None:
    os.rename(src, dst)


def _write(path: str, data: bytes) -> None:
    with open(path, 'wb') as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _replace(target: str, data: bytes) -> None:
    """The file whole or not at all: written to a temporary name, synced, and renamed."""
    temporary = f'{target}.tmp-{uuid.uuid4().hex[:8]}'
    _write(temporary, data)
    _rename(temporary, target)


def replace_file(target: str, data: bytes, content_type: str = 'application/octet-stream'
                 ) -> None:
    """A small file (a record or a page a reader trusts) replaced whole, local or on an
    object store: a reader finds the old bytes or the new, never a mix. On a local disk a
    temporary file renamed; on an object store one upload (``content_type`` is the object's,
    for a browser)."""
    if object_store.is_local(target):
        _replace(target, data)
    else:
        object_store.upload(target, data, content_type)


def replace_json(target: str, data: Dict) -> None:
    """A small local JSON file (a record a reader trusts) replaced atomically."""
    _replace(target, jsonio.json_bytes(data))


def _rmtree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


# --- Reading the state of an output -----------------------------------------------------

def read_manifest(folder: str) -> Optional[Dict]:
    """The folder's manifest as a dict, or None (none, unreadable, or not a JSON object)."""
    return jsonio.read_json_object(os.path.join(folder, MANIFEST))


def is_complete(folder: str) -> bool:
    """A published or publishable output: its manifest says ok."""
    manifest = read_manifest(folder)
    return manifest is not None and manifest.get('status') == 'ok'


def leftovers(final_path: str) -> List[str]:
    """The staging, old and trash folders that runs of ``final_path`` left beside it."""
    parent = os.path.dirname(os.path.abspath(final_path))
    base = os.path.basename(final_path)
    if not os.path.isdir(parent):
        return []
    return sorted(os.path.join(parent, n) for n in os.listdir(parent)
                  if n.startswith(base) and LEFTOVER.fullmatch(n[len(base):]))


def _remove(final_path: str, path: str) -> None:
    """Renamed to a trash name first: a folder half deleted is never taken for an output."""
    trash = f'{final_path}.trash-{uuid.uuid4().hex[:8]}'
    if not os.path.basename(path).startswith(os.path.basename(final_path) + '.trash-'):
        try:
            _rename(path, trash)
        except FileNotFoundError:
            return
        path = trash
    _rmtree(path)


def recover(final_path: str) -> Optional[str]:
    """Puts a complete output back at ``final_path`` if a killed publish left it beside, then
    removes the other leftovers. Call with the output's lock held. Returns what it restored."""
    restored = None
    found = leftovers(final_path)
    if not os.path.lexists(final_path):
        def newest(kind: str) -> Optional[str]:
            complete = [p for p in found if f'.{kind}-' in os.path.basename(p)[
                len(os.path.basename(final_path)):] and is_complete(p)]
            return max(complete, key=lambda p: (str(read_manifest(p).get('created')),
                                                 os.stat(p).st_mtime), default=None)

        restored = newest('partial') or newest('old')
        if restored:
            _rename(restored, final_path)
            _LOG.warning('Restored %s from %s, which an interrupted run left', final_path,
                         restored)
    for path in leftovers(final_path):
        if read_manifest(path) is not None and not is_complete(path) and \
                '.trash-' not in path:
            _keep_failed(final_path, path)  # a failed run's evidence: kept, not deleted
            continue
        _LOG.warning('Removing %s, left by an earlier run of this output that was killed',
                     path)
        _remove(final_path, path)
    return restored


def _failed_path(final_path: str) -> str:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
    path, n = f'{final_path}{FAILED}{stamp}', 1
    while os.path.lexists(path):
        n += 1
        path = f'{final_path}{FAILED}{stamp}-{n}'
    return path


def _keep_failed(final_path: str, path: str) -> str:
    kept = _failed_path(final_path)
    _rename(path, kept)
    return kept


# --- The staged output -------------------------------------------------------------------

class StagedOutput:
    """Context manager for a job's output folder (see the module doc for the protocol).

    Inside the ``with``, write under ``.path``, then ``write_manifest`` and ``publish()`` (or
    ``publish_failed()``). Leaving the block without publishing removes the staging folder;
    an earlier result at the final path is replaced only by a published one. The output's
    lock is held throughout, so what killed runs left beside it is known to be dead.
    """

    def __init__(self, final_path: str):
        self.final_path = final_path.rstrip('/')
        self.path = f'{self.final_path}.partial-{uuid.uuid4().hex[:8]}'
        self.published_path: Optional[str] = None
        self._lock = OutputLock(self.final_path)

    def __enter__(self) -> 'StagedOutput':
        parent = os.path.dirname(self.final_path)
        try:
            if object_store.is_local(self.path) and parent:
                os.makedirs(parent, exist_ok=True)
            self._lock.acquire()
        except OSError as e:
            raise OutputError(f'cannot write {self.final_path}: {e.strerror or e}') from None
        try:
            if object_store.is_local(self.final_path):
                recover(self.final_path)
                os.makedirs(self.path)
            else:
                object_publish.recover(self.final_path, LEFTOVER, self._failed_path)
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.published_path is None:
                if not object_store.is_local(self.final_path):
                    # A publish stopped after its commit is finished; else the staging goes.
                    self._recover_remote()
                else:
                    _rmtree(self.path)
                    if not os.path.lexists(self.final_path):
                        recover(self.final_path)  # stopped between two renames: put OUT back
        finally:
            self._lock.release()

    def write_manifest(self, manifest: Dict) -> None:
        """The manifest, last, whole: a temporary file renamed into place."""
        target = os.path.join(self.path, MANIFEST)
        if not object_store.is_local(self.path):
            jsonio.write_json(target, manifest)
            return
        replace_json(target, manifest)

    def publish(self) -> str:
        """Makes the staging folder the output; returns its path."""
        if not object_store.is_local(self.final_path):
            self._lock.check()
            object_publish.publish(self.path, self.final_path)
        elif not os.path.lexists(self.final_path):
            _rename(self.path, self.final_path)
        elif _exchange(self.path, self.final_path):
            _remove(self.final_path, self.path)  # the old output, now at the staging name
        else:
            old = f'{self.final_path}.old-{uuid.uuid4().hex[:8]}'
            _rename(self.final_path, old)
            _rename(self.path, self.final_path)
            _remove(self.final_path, old)
        self.published_path = self.final_path
        _LOG.info('Wrote %s', self.final_path)
        return self.final_path

    def publish_new(self, candidates: Iterable[str]) -> str:
        """Makes the staging folder the output at the first of ``candidates`` that does not
        exist yet, atomically: never over anything, even what another writer published a
        moment before (on an object store: the first this run claims, see
        ``object_publish.publish_new``). Returns the path."""
        if object_store.is_local(self.final_path):
            path = next((p for p in candidates if _rename_new(self.path, p)), None)
        else:
            self._lock.check()
            path = object_publish.publish_new(self.path, candidates)
        if path is None:
            raise OutputError(f'cannot publish {self.final_path}: every name tried was taken')
        self.published_path = path
        _LOG.info('Wrote %s', path)
        return path

    def publish_failed(self) -> str:
        """A failed run's output, kept for inspection beside the final path, which keeps its
        earlier output; returns where it went."""
        if object_store.is_local(self.final_path):
            self.published_path = _keep_failed(self.final_path, self.path)
        else:
            self.published_path = _failed_path(self.final_path)
            object_publish.keep_failed(self.path, self.published_path)
        return self.published_path

    def _failed_path(self) -> str:
        return _failed_path(self.final_path)

    def _recover_remote(self) -> None:
        try:
            self._lock.check()
            object_publish.recover(self.final_path, LEFTOVER, self._failed_path)
        except Exception as e:  # the error that ended the run matters more; the next run
            _LOG.warning('Could not clean up after %s: %s', self.final_path, e)  # recovers


def _remove_any(path: str) -> None:
    if object_store.is_local(path):
        _rmtree(path)
    else:
        object_store.remove(path)


def remove_paths(paths: Iterable[str]) -> None:
    """Removes each path, a file or a folder, local or on an object store (every object under
    its prefix); a missing one is no error."""
    for p in paths:
        _remove_any(p)
