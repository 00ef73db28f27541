"""What a job may write: never a user's files, and one run at a time per output.

``check_output`` runs before any work. A job replaces an existing --output only
when it is that job's own earlier output (its manifest.json names the job; on an object
store, also one whose publish a killed run of that job had committed) or an empty folder; never a file, a folder holding anything else, a folder that holds
another run's published output (a nested manifest, nightly ``dt=`` partitions), a
model registry's version or anything inside one (versions are never written again), the
current folder, or a path that is, contains or lies inside one of the job's inputs, its
model or its data. ``check_nightly_root`` is the same for the root of dated runs, on a disk
or an object store: it may hold partitions, what runs leave beside them and the nights'
history, never an ad-hoc output or a user's files. ``OutputLock`` makes a second run for
the same output fail fast while the first is alive, and takes over the lock of a run that
died.
"""

import datetime
import fcntl
import json
import logging
import os
import re
import socket
from typing import Iterable, List, Optional

from pipeline.runtime import object_store
from transforms import schema
from transforms.errors import OutputError, OutputLocked

_LOG = logging.getLogger(__name__)
LOCK_SUFFIX = '.lock'
# A nightly root's partitions (dt=YYYY-MM-DD), and what runs leave beside them.
PARTITION = re.compile(r'dt=\d{4}-\d{2}-\d{2}')
_NIGHTLY_ENTRY = re.compile(r'dt=\d{4}-\d{2}-\d{2}(\.(partial|old|trash)-[0-9a-f]{8}'
                            r'|\.failed-[0-9TZ-]+|\.lock|\.commit)?')  # .commit: object stores
# Files a nightly root holds besides its partitions (the history of the nights).
NIGHTLY_FILES = ('history.json', 'index.html', 'history.lock')
# How deep a folder is searched for another run's published output.
_NESTED_DEPTH = 3


def _real(path: str) -> str:
    if object_store.is_local(path):
        return os.path.realpath(os.path.abspath(path))
    return path.rstrip('/')


def _overlaps(a: str, b: str) -> bool:
    """a is b, or one lies inside the other."""
    sep = '/' if not object_store.is_local(a) else os.sep
    return a == b or a.startswith(b.rstrip(sep) + sep) or b.startswith(a.rstrip(sep) + sep)


def manifest_job(folder: str) -> Optional[str]:
    """The ``job`` its manifest.json names, or None (no manifest, or unreadable)."""
    from transforms.jsonio import read_json_object  # loads Beam
    sep = os.sep if object_store.is_local(folder) else '/'
    found = read_json_object(folder.rstrip(sep) + sep + schema.MANIFEST_FILE) or {}
    return found.get('job')


def partitions(folder: str) -> List[str]:
    """The names of the dt= partitions (and their leftovers) directly inside ``folder``."""
    if not os.path.isdir(folder):
        return []
    return sorted(n for n in os.listdir(folder) if _NIGHTLY_ENTRY.fullmatch(n))


def _nested_outputs(folder: str, depth: int = _NESTED_DEPTH) -> List[str]:
    """Folders below ``folder`` (not itself) that hold a published output's manifest."""
    found = []
    for current, dirs, files in os.walk(folder):
        level = os.path.relpath(current, folder).count(os.sep) + (current != folder)
        if current != folder and schema.MANIFEST_FILE in files:
            found.append(current)
        if level >= depth:
            dirs[:] = []
    return found


def check_output(output: Optional[str], job: str, protected: Iterable[str] = (),
                 flag: str = '--output', replaces: bool = True) -> None:
    """Raises OutputError (exit 2) unless ``job`` may write ``output``; see the module doc.

    ``protected``: the paths the job reads (input files and folders, the model, --data).
    ``replaces``: the job replaces the folder whole (every job but ``run``, which writes its
    steps' outputs into its folder and may hold them)."""
    out = _checked_place(output, protected, flag)
    if not object_store.is_local(output):
        _check_remote(output, job, flag)
        return
    if _existing_folder(out, output, flag, job, 'replacing'):
        own = manifest_job(out)
        if partitions(out):
            raise OutputError(f'{flag} {output} is the root of nightly runs (it holds dt= '
                              f'partitions); score it with --date, or choose a new folder '
                              f'(nothing was changed)')
        if os.listdir(out) and own != job:
            what = f'the output of `imdb-sentiment {own}`' if own else 'files of yours'
            raise OutputError(f'{flag} {output} holds {what}, not an earlier `imdb-sentiment '
                              f'{job}` output; choose a new folder (nothing was changed)')
        nested = _nested_outputs(out) if replaces else []
        if nested:
            raise OutputError(f'{flag} {output} holds the output of another run '
                              f'({os.path.relpath(nested[0], out)}); replacing it would '
                              f'delete that too, so choose a new folder (nothing was changed)')
    _check_writable(out, output, flag)


def check_nightly_root(output: Optional[str], protected: Iterable[str] = (),
                       flag: str = '--output') -> None:
    """Raises OutputError (exit 2) unless ``output`` may be the root of dated runs: missing,
    empty, or holding only partitions and the nights' history; never an ad-hoc output."""
    out = _checked_place(output, protected, flag)
    if not object_store.is_local(output):
        _check_root_entries(output, flag, manifest_job(out), _remote_entries(out))
        return
    if _existing_folder(out, output, flag, 'nightly', 'writing in'):
        _check_root_entries(output, flag, manifest_job(out), os.listdir(out))
    _check_writable(out, output, flag)


def _remote_entries(folder: str) -> List[str]:
    """The names directly under ``folder`` on an object store, objects and "folders" alike
    (one listing of its prefix)."""
    folder = folder.rstrip('/')
    found = object_store.filesystems().match([folder + '/**'])[0].metadata_list
    return sorted({m.path[len(folder) + 1:].split('/', 1)[0] for m in found})


def _check_root_entries(output: str, flag: str, own: Optional[str], names: List[str]) -> None:
    """Raises OutputError unless a nightly root's ``names`` are partitions (and what runs
    leave beside them) and the nights' history; ``own``: the job its manifest names."""
    if own:
        raise OutputError(f'{flag} {output} is the output of an `imdb-sentiment {own}` run '
                          f'without --date, not a root of nightly partitions; choose a '
                          f'new folder for --date runs (nothing was changed)')
    others = [n for n in names if not _NIGHTLY_ENTRY.fullmatch(n)
              and n not in NIGHTLY_FILES
              and not n.startswith(tuple(f'{f}.tmp-' for f in NIGHTLY_FILES))]
    if others:
        raise OutputError(f'{flag} {output} holds files that are not nightly partitions '
                          f'({others[0]}...); choose a new folder (nothing was changed)')


def _checked_place(output: Optional[str], protected: Iterable[str], flag: str) -> str:
    """The real path of ``output``, which names something and lies apart from every path the
    job reads; raises OutputError otherwise."""
    if not output or not output.strip():
        raise OutputError(f'{flag} is empty')
    out = _real(output)
    if object_store.is_local(output):
        from pipeline.new_version import check_not_in_version  # it builds on this module
        check_not_in_version(output, flag)
    for path in protected:
        if path and _overlaps(out, _real(path)):
            raise OutputError(f'{flag} {output} overlaps {path}, which this job reads; '
                              f'write somewhere else')
    return out


def _existing_folder(out: str, output: str, flag: str, subfolder: str, doing: str) -> bool:
    """Whether a local ``output`` (real path ``out``) exists, as a folder; raises OutputError
    when it is or holds the current folder (``subfolder``: the one to suggest instead), or is
    something other than a folder (``doing``: what the job would not do to it)."""
    if _overlaps(out, os.getcwd()) and not out.startswith(os.getcwd() + os.sep):
        raise OutputError(f'{flag} {output} is the current folder or holds it; '
                          f'name a subfolder such as {flag} out/{subfolder}')
    if not os.path.lexists(out):
        return False
    if not os.path.isdir(out) or os.path.islink(output.rstrip('/')):
        raise OutputError(f'{flag} {output} exists and is not a folder; not {doing} it')
    return True


def _check_writable(out: str, output: str, flag: str) -> None:
    parent = os.path.dirname(out)
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise OutputError(f'{flag} {output}: {parent} is not a folder')
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f'{flag} {output}: cannot write in {parent} (permission denied)')


def _check_remote(output: str, job: str, flag: str) -> None:
    if object_store.is_bucket(output):
        raise OutputError(f'{flag} {output} is a whole bucket; name a folder in it, such as '
                          f'{output.rstrip("/")}/{job}')
    found = object_store.filesystems().match([output.rstrip('/') + '/**'])[0].metadata_list
    if found and manifest_job(output) != job and not _committed_by(output, job):
        raise OutputError(f'{flag} {output} holds files that are not an earlier '
                          f'`imdb-sentiment {job}` output; choose a new folder')


def _committed_by(output: str, job: str) -> bool:
    """Whether a run of ``job`` was killed while publishing ``output`` on an object store,
    after its commit: its run finishes that publish first (``runtime/object_publish.py``)."""
    from pipeline.runtime.object_publish import committed  # object stores only: loads Beam
    from pipeline.runtime.publish import LEFTOVER
    staged = committed(output.rstrip('/'), LEFTOVER)
    return staged is not None and manifest_job(staged) == job


class OutputLock:
    """``<output>.lock`` beside an output, held while a job writes it.

    On a local disk it is an ``flock`` on that file: the kernel drops it when its process
    dies, however it dies, so it is never stale. On an object store it is a lease object
    (``pipeline/runtime/lease.py``), taken over once its holder is gone. Either way the lock
    records the holder's pid, host and start time for the message that a second run gets
    (OutputLocked, exit 75).
    """

    def __init__(self, output: str):
        self.output = output.rstrip('/')
        self.path = self.output + LOCK_SUFFIX
        self._fd: Optional[int] = None
        self._lease = None

    def acquire(self) -> None:
        if not object_store.is_local(self.output):
            from pipeline.runtime.lease import LEASE_S, Lease  # object stores only
            lease = Lease(self.path)
            holder = lease.acquire()
            if holder is not None:
                raise self._locked(holder, f'; a lock not renewed for {LEASE_S:.0f} s is '
                                           f'taken over')
            self._lease = lease
            return
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                raise self._locked(holder) from None
            # The holder before us may have removed the file between our open and flock.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({
            'pid': os.getpid(), 'host': socket.gethostname(),
            'started': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        }).encode())
        self._fd = fd

    def _locked(self, holder: dict, more: str = '') -> OutputLocked:
        return OutputLocked(
            f'{self.output} is being written by another run (pid {holder.get("pid", "?")} on '
            f'{holder.get("host", "?")} since {holder.get("started", "?")}); try again when it '
            f'has finished{more}')

    def check(self) -> None:
        """Raises OutputLocked if this run has lost the lock (an object store's lease taken
        over while the run stalled): it must not publish. A local lock is never lost."""
        if self._lease is not None and not self._lease.held():
            raise OutputLocked(f'{self.output}: this run stalled past its lock\'s lease and '
                               f'another run took the lock over; nothing was published')

    def release(self) -> None:
        if self._lease is not None:
            self._lease.release()
            self._lease = None
        if self._fd is not None:
            try:
                os.remove(self.path)  # while still holding it: see acquire's inode check
            except FileNotFoundError:
                pass
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> 'OutputLock':
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return json.loads(os.read(fd, 4096).decode('utf-8') or '{}')
    except (OSError, ValueError):
        return {}
