"""What a job may write: never a user's files, and one run at a time per output.

``check_output`` runs before any work. A job replaces an existing --output only
when it is that job's own earlier output (its manifest.json names the job) or an
empty folder; never a file, a folder holding anything else, the current folder,
or a path that is, contains or lies inside one of the job's inputs, its model or
its data. ``OutputLock`` makes a second run for the same output fail fast while
the first is alive, and takes over the lock of a run that died.
"""

import datetime
import fcntl
import json
import logging
import os
import socket
from typing import Iterable, Optional

from apache_beam.io.filesystems import FileSystems

from transforms import schema
from transforms.errors import OutputError, OutputLocked

_LOG = logging.getLogger(__name__)
LOCK_SUFFIX = '.lock'


def _is_local(path: str) -> bool:
    return '://' not in path


def _real(path: str) -> str:
    return os.path.realpath(os.path.abspath(path)) if _is_local(path) else path.rstrip('/')


def _overlaps(a: str, b: str) -> bool:
    """a is b, or one lies inside the other."""
    sep = '/' if not _is_local(a) else os.sep
    return a == b or a.startswith(b.rstrip(sep) + sep) or b.startswith(a.rstrip(sep) + sep)


def manifest_job(folder: str) -> Optional[str]:
    """The ``job`` its manifest.json names, or None (no manifest, or unreadable)."""
    path = FileSystems.join(folder, schema.MANIFEST_FILE)
    try:
        if not FileSystems.exists(path):
            return None
        with FileSystems.open(path) as f:
            return json.loads(f.read().decode('utf-8')).get('job')
    except (OSError, ValueError, AttributeError):
        return None


def check_output(output: Optional[str], job: str, protected: Iterable[str] = (),
                 flag: str = '--output') -> None:
    """Raises OutputError (exit 2) unless ``job`` may write ``output``; see the module doc.

    ``protected``: the paths the job reads (input files and folders, the model, --data).
    """
    if not output or not output.strip():
        raise OutputError(f'{flag} is empty')
    out = _real(output)
    for path in protected:
        if path and _overlaps(out, _real(path)):
            raise OutputError(f'{flag} {output} overlaps {path}, which this job reads; '
                              f'write somewhere else')
    if not _is_local(output):
        _check_remote(output, job, flag)
        return
    if _overlaps(out, os.getcwd()) and not out.startswith(os.getcwd() + os.sep):
        raise OutputError(f'{flag} {output} is the current folder or holds it; '
                          f'name a subfolder such as {flag} out/{job}')
    if os.path.lexists(out):
        if not os.path.isdir(out) or os.path.islink(output.rstrip('/')):
            raise OutputError(f'{flag} {output} exists and is not a folder; not replacing it')
        own = manifest_job(out)
        if os.listdir(out) and own != job:
            what = f'the output of `imdb-sentiment {own}`' if own else 'files of yours'
            raise OutputError(f'{flag} {output} holds {what}, not an earlier `imdb-sentiment '
                              f'{job}` output; choose a new folder (nothing was changed)')
    _check_writable(out, output, flag)


def _check_writable(out: str, output: str, flag: str) -> None:
    parent = os.path.dirname(out)
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise OutputError(f'{flag} {output}: {parent} is not a folder')
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f'{flag} {output}: cannot write in {parent} (permission denied)')


def _check_remote(output: str, job: str, flag: str) -> None:
    found = FileSystems.match([output.rstrip('/') + '/**'])[0].metadata_list
    if found and manifest_job(output) != job:
        raise OutputError(f'{flag} {output} holds files that are not an earlier '
                          f'`imdb-sentiment {job}` output; choose a new folder')


class OutputLock:
    """``<output>.lock`` beside a local output, held (flock) while a job writes it.

    The kernel drops the lock when its process dies, however it dies, so a lock is
    never stale; the file records the holder's pid, host and start time for the
    message that a second run gets (OutputLocked, exit 75). Object-store outputs are
    not locked.
    """

    def __init__(self, output: str):
        self.output = output.rstrip('/')
        self.path = self.output + LOCK_SUFFIX
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        if not _is_local(self.output):
            return
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                raise OutputLocked(
                    f'{self.output} is being written by another run (pid {holder.get("pid", "?")}'
                    f' on {holder.get("host", "?")} since {holder.get("started", "?")}); try '
                    f'again when it has finished') from None
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

    def release(self) -> None:
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
