"""Fetching the Stanford Large Movie Review Dataset (aclImdb) once into a local cache.

  imdb-sentiment download                      # prints e.g. ~/.cache/imdb-sentiment/aclImdb
  imdb-sentiment preprocess --input ~/.cache/imdb-sentiment/aclImdb/train --output out/preprocess

The archive is downloaded to ``<archive>.part`` (resumed with an HTTP Range request
after an interruption), checked against its published size and SHA-256, renamed
into place, and unpacked into a temporary folder that is renamed to ``aclImdb`` at
the end: a folder of that name is always complete, so a second call returns at once
without touching the network. Every failure a user can cause or meet is a
DownloadError with a one-line message that says what to do.
"""

import argparse
import http.client
import logging
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from typing import Iterator, List, Optional, Sequence, TextIO

from pipeline import flags
from pipeline.jobs.archive import (ARCHIVE_NAME, CACHE_ENV, EXTRACTED_DIR, SHA256,  # noqa: F401
                                   SIZE, URL, default_cache_dir)
from transforms.errors import DownloadError

_LOG = logging.getLogger(__name__)

NAME = 'download'
# Applies to the connection and to each read, so a stalled transfer fails rather than hangs.
TIMEOUT_S = 30
# A dropped connection is resumed this many times within one call before giving up.
RESUMES = 3
_CHUNK = 1 << 16
_MB = 1e6
_HINT = f'download {ARCHIVE_NAME} yourself from {URL}, unpack it and pass --input aclImdb/train'


class _Interrupted(DownloadError):
    """The transfer stopped part-way; the .part file is kept so the next try resumes."""


class _Progress:
    """Percent, MB and MB/s on stderr: redrawn in place on a terminal; on a log or pipe, a plain
    line per quarter of the file (per 25 MB when the size is unknown) so logs stay readable."""

    def __init__(self, name: str, total: Optional[int], done: int, enabled: bool = True,
                 stream: Optional[TextIO] = None) -> None:
        self._name, self._total, self._first, self._shown = name, total, done, done
        self._stream = stream or sys.stderr
        self._enabled = enabled
        self._tty = enabled and self._stream.isatty()
        self._step = total / 4 if total else 25 * _MB
        self._next = (done // self._step + 1) * self._step
        self._last = done
        self._started = self._drawn = time.monotonic()

    def update(self, done: int) -> None:
        self._last = done
        now = time.monotonic()
        if not self._enabled:
            return
        if self._tty and now - self._drawn >= 0.1:
            self._draw(done, '\r', '')
            self._drawn = now
        elif not self._tty and done >= self._next:
            self._draw(done, '', '\n')
            self._next = (done // self._step + 1) * self._step

    def close(self) -> None:
        if self._enabled and (self._tty or self._last != self._shown):
            self._draw(self._last, '\r' if self._tty else '', '\n')

    def _draw(self, done: int, start: str, end: str) -> None:
        self._shown = done
        rate = (done - self._first) / _MB / max(time.monotonic() - self._started, 1e-3)
        size = f'{done / _MB:.1f}/{self._total / _MB:.1f} MB' if self._total else f'{done / _MB:.1f} MB'
        percent = f'{100 * done // self._total:3d}% ' if self._total else ''
        self._stream.write(f'{start}{self._name} {percent}{size} {rate:.1f} MB/s{end}')
        self._stream.flush()


def fetch_aclimdb(cache_dir: Optional[str] = None, url: str = URL, size: Optional[int] = SIZE,
                  sha256: Optional[str] = SHA256, progress: bool = True) -> str:
    """Downloads, verifies and unpacks the aclImdb archive; returns the ``aclImdb`` folder path.

    ``size`` and ``sha256`` of None skip that check (for a mirror serving another file).
    Raises DownloadError on any failure; a partial download is kept for the next call.
    """
    cache_dir = os.path.abspath(cache_dir or default_cache_dir())
    target = os.path.join(cache_dir, EXTRACTED_DIR)
    if os.path.isdir(target):
        return target
    archive = os.path.join(cache_dir, os.path.basename(urllib.parse.urlparse(url).path) or ARCHIVE_NAME)
    try:
        os.makedirs(cache_dir, exist_ok=True)
    except OSError as e:
        raise DownloadError(f'cannot create the cache folder {cache_dir} ({e.strerror}): '
                            f'choose another with --cache-dir or ${CACHE_ENV}') from e
    if os.path.exists(archive) and _mismatch(archive, size, sha256):
        # Only a verified archive is ever renamed into place, so this one came from elsewhere.
        _LOG.warning('%s does not match the published checksum; downloading it again', archive)
        os.remove(archive)
    if not os.path.exists(archive):
        part = archive + '.part'
        for attempt in range(RESUMES + 1):
            try:
                _download(url, part, size, progress)
                break
            except _Interrupted as e:
                if attempt == RESUMES:
                    raise
                _LOG.warning('%s; resuming', e)
        problem = _mismatch(part, size, sha256)
        if problem:
            os.remove(part)  # never resume from bytes known to be wrong
            raise DownloadError(f'the file from {url} has {problem}, so it was deleted: run the '
                                f'command again, or {_HINT}')
        os.replace(part, archive)
    _extract(archive, cache_dir, target)
    return target


def _download(url: str, part: str, size: Optional[int], progress: bool) -> None:
    """Fetches ``url`` into ``part``, appending to what is there when the server allows it."""
    offset = os.path.getsize(part) if os.path.exists(part) else 0
    if size is not None and offset >= size:
        if offset == size:
            return  # complete already; the checksum decides whether it is good
        offset = 0  # longer than the archive can be: not a prefix of it
    headers = {'User-Agent': 'imdb-sentiment'}
    if offset:
        headers['Range'] = f'bytes={offset}-'
    host = urllib.parse.urlparse(url).hostname or url
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:  # the .part is no prefix the server knows: start afresh
            os.remove(part)
            raise _Interrupted(f'{host} refused to resume at byte {offset}: run the command again') from e
        raise DownloadError(f'{url} answered HTTP {e.code} {_one_line(e.reason)}: check the address '
                            f'(--url), or {_HINT}') from e
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        reason = getattr(e, 'reason', None) or e
        raise DownloadError(f'cannot reach {host} ({_one_line(reason)}): check the network, '
                            f'or {_HINT}') from e
    with response:
        resumed = response.status == 206
        if resumed and not (response.headers.get('Content-Range') or '').startswith(f'bytes {offset}-'):
            os.remove(part)
            raise _Interrupted(f'{host} answered the resume request with another range: '
                               f'run the command again')
        done = offset if resumed else 0  # a 200 answer is the whole file: restart from zero
        length = response.headers.get('Content-Length')
        expected = done + int(length) if length and length.isdigit() else None
        if size is not None and expected is not None and expected != size:
            raise DownloadError(f'{url} offers {expected} bytes, but {ARCHIVE_NAME} has {size}: '
                                f'check the address (--url), or {_HINT}')
        bar = _Progress(os.path.basename(part).removesuffix('.part'), expected or size, done, progress)
        try:
            with open(part, 'ab' if resumed else 'wb') as f:
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except (OSError, http.client.HTTPException) as e:
                        raise _Interrupted(f'download from {host} stopped after {done} bytes '
                                           f'({_one_line(e)}): run the command again to resume') from e
                    if not chunk:
                        break
                    f.write(chunk)
                    done += len(chunk)
                    bar.update(done)
        except OSError as e:  # the socket's errors are _Interrupted by now: this is our disk
            raise DownloadError(f'cannot write {part} ({e.strerror}): free some disk space '
                                f'or choose another --cache-dir') from e
        finally:
            bar.close()
    if expected is not None and done < expected:
        # http.client returns a short body without complaint when the peer hangs up early.
        raise _Interrupted(f'download from {host} stopped after {done} of {expected} bytes: '
                           f'run the command again to resume')


def _mismatch(path: str, size: Optional[int], sha256: Optional[str]) -> Optional[str]:
    """How ``path`` differs from the published size and SHA-256, or None if it matches."""
    actual_size = os.path.getsize(path)
    if size is not None and actual_size != size:
        return f'{actual_size} bytes instead of {size}'
    if sha256 is None:
        return None
    from transforms.jsonio import file_sha256  # Beam's file systems: not for --help
    found = file_sha256(path)
    return None if found == sha256.lower() else f'SHA-256 {found} instead of {sha256.lower()}'


def _safe_members(tar: tarfile.TarFile, root: str) -> Iterator[tarfile.TarInfo]:
    """Yields the members, raising TarError on a device or on one that would land outside ``root``."""
    root = os.path.realpath(root)

    def inside(path: str) -> bool:
        path = os.path.realpath(path)
        return path == root or path.startswith(root + os.sep)

    for member in tar:
        dest = os.path.join(root, member.name)
        # A symlink's target is relative to its folder, a hard link's to the archive root.
        link = os.path.join(os.path.dirname(dest) if member.issym() else root, member.linkname)
        if member.isdev() or not inside(dest) or ((member.issym() or member.islnk()) and not inside(link)):
            raise tarfile.TarError(f'unsafe member {member.name!r}')
        yield member


def _extract(archive: str, cache_dir: str, target: str) -> None:
    """Unpacks ``archive`` into a temporary folder and renames its aclImdb folder to ``target``."""
    _LOG.info('Unpacking %s', archive)
    tmp = tempfile.mkdtemp(prefix='.unpacking-', dir=cache_dir)
    try:
        with tarfile.open(archive, 'r:gz') as tar:
            # The 'data' filter (3.12, backported to 3.11.4+) also drops modes and owners;
            # _safe_members gives the path guarantee on interpreters without it.
            kwargs = {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}
            tar.extractall(tmp, members=_safe_members(tar, tmp), **kwargs)
        unpacked = os.path.join(tmp, EXTRACTED_DIR)
        if not all(os.path.isdir(os.path.join(unpacked, split)) for split in ('train', 'test')):
            raise tarfile.TarError(f'no {EXTRACTED_DIR}/train and {EXTRACTED_DIR}/test inside')
        os.replace(unpacked, target)
    except (tarfile.TarError, EOFError, zlib.error) as e:
        os.remove(archive)  # not the dataset's archive: keeping it would fail every later run
        raise DownloadError(f'cannot unpack {archive} ({_one_line(e)}), so it was deleted: run the '
                            f'command again, or {_HINT}') from e
    except OSError as e:
        if not os.path.isdir(target):  # another process may have finished the same job first
            raise DownloadError(f'cannot unpack {archive} into {cache_dir} ({e.strerror}): free some '
                                f'disk space or choose another --cache-dir') from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _one_line(reason: object) -> str:
    return ' '.join(str(reason).split())


def main(job_args: argparse.Namespace, beam_args: List[str]) -> int:
    """Fetches the dataset and prints its folder; returns the exit code."""
    # The checksums are read here, not bound as defaults, so a test can point them at its archive.
    print(fetch_aclimdb(job_args.cache_dir, job_args.url, SIZE, SHA256,
                        progress=not job_args.no_progress))
    return 0


def run(argv: Optional[Sequence[str]] = None) -> int:
    """``imdb-sentiment download ARGV`` in this process."""
    return main(*flags.parse(NAME, argv or []))
