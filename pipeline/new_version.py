"""Writing a registry's versions: staged under a name without a number, numbered when
published, never written again.

A writer (``imdb-sentiment train --registry``, ``run --models``) stages its export under
``REGISTRY/new-<id>.partial-<id>``, holding the lock ``new-<id>.lock``. Publishing renames
the staged folder onto the first integer name that does not exist, with create-if-absent
semantics (``renameat2(RENAME_NOREPLACE)``, or a ``mkdir`` reservation where the filesystem
has none), and tries the next number when another writer got there first: two writers at
once get two versions, and neither replaces anything. A writer killed with SIGKILL leaves
its staging folder and lock file; the next writer removes them once the lock shows that no
live process holds it. No job may write into a version folder (``check_not_in_version``).

On an object store (``gs://``) there is no rename: the number is taken by creating
``REGISTRY/<n>.claim`` only if absent, and the staged objects are then copied under
``REGISTRY/<n>/``, the manifest last (``object_publish.publish_new``); a version is published
once its manifest is there. Two writers at once claim two numbers. A writer killed between
its claim and its manifest leaves a claim, a half-copied version without a manifest and its
whole staged folder; the next writer, once it has taken the dead writer's lock over (a lease,
``pipeline/runtime/lease.py``), copies the rest and removes the staging folder.
"""

import itertools
import logging
import os
import re
import socket
import time
import uuid
from typing import Iterator, List, Optional

from pipeline.registry import (CHAMPION_FILE, NEW_PREFIX, VERDICTS_DIR, VERSION_NAME,
                               WRITER_KEY, entries, next_version, version_path, versions)
from pipeline.runtime import object_publish, object_store
from pipeline.runtime.guard import OutputLock
from pipeline.runtime.publish import LEFTOVER, StagedOutput, leftovers, remove_paths
from transforms import jsonio
from transforms.errors import OutputError, OutputLocked

_LOG = logging.getLogger(__name__)
# What writers leave: a lock, a staging, old or trash folder, of a number or a new-<id>.
_DEBRIS = re.compile(WRITER_KEY + r'(\.lock|\.(partial|old|trash)-[0-9a-f]{8})')
_STALE_EMPTY_LOCK_S = 60     # a lock file that never got its holder's pid is stale by then
_MAX_TRIES = 1000


def version_folder_of(path: str) -> Optional[str]:
    """The registry version folder that the local ``path`` is or lies inside, or None: an
    integer folder (published or not yet) of a folder that holds a champion record,
    verdicts, or a published version."""
    current = os.path.realpath(os.path.abspath(path))
    while os.path.dirname(current) != current:
        parent = os.path.dirname(current)
        if VERSION_NAME.fullmatch(os.path.basename(current)) and os.path.isdir(parent) and (
                versions(parent) or {CHAMPION_FILE, VERDICTS_DIR} & set(os.listdir(parent))):
            return current
        current = parent
    return None


def check_not_in_version(path: str, flag: str = '--output') -> None:
    """An OutputError (exit 2) for an output that is, or lies inside, a registry version:
    published versions are never written again."""
    inside = version_folder_of(path) if '://' not in path else None
    if inside:
        where = 'is' if os.path.realpath(path) == inside else 'lies inside'
        raise OutputError(f'{flag} {path} {where} version {os.path.basename(inside)} of the '
                          f'model registry {os.path.dirname(inside)}, and a version is never '
                          f'written again; train a new one with --output '
                          f'{os.path.dirname(inside)} --registry (nothing was changed)')


def stage_version(path: str) -> StagedOutput:
    """A StagedOutput for a new version of the registry ``path``: ``publish_version`` gives
    it its number. Removes what killed writers left first."""
    if object_store.is_local(path):
        os.makedirs(path, exist_ok=True)
    remove_debris(path)
    return StagedOutput(f'{path.rstrip("/")}/{NEW_PREFIX}{uuid.uuid4().hex[:8]}')


def publish_version(path: str, out: StagedOutput) -> str:
    """Publishes the staged version at the first free number from one above every integer
    entry: never over an existing folder, even one another writer published a moment
    before. Returns its folder."""
    def numbers() -> Iterator[str]:
        start = max([0] + [int(n) for n in os.listdir(path) if VERSION_NAME.fullmatch(n)]) + 1 \
            if object_store.is_local(path) else next_version(path)   # claims count there
        return (version_path(path, n) for n in itertools.islice(itertools.count(start),
                                                                 _MAX_TRIES))
    return out.publish_new(numbers())


def remove_debris(path: str) -> List[str]:
    """Removes the staging folders and lock files of writers that died (kill -9): those whose
    lock, on this host, no live process holds. Returns what it removed."""
    if not object_store.is_local(path):
        return _remove_remote_debris(path)
    removed = []
    keys = sorted({m.group(1) for m in map(_DEBRIS.fullmatch, os.listdir(path)) if m})
    for key in keys:
        final = os.path.join(path, key)
        holder = jsonio.read_json_object(final + '.lock')
        if holder and holder.get('host') not in (None, socket.gethostname()):
            continue  # another machine's writer: its lock says nothing here
        if os.path.exists(final + '.lock') and holder is None:
            age = _age(final + '.lock')
            if age is None or age < _STALE_EMPTY_LOCK_S:
                continue  # its writer is taking it now, or just did
        lock = OutputLock(final)
        try:
            lock.acquire()   # flock: only a dead writer's lock can be taken
        except (OutputLocked, OSError):
            continue
        try:
            found = leftovers(final)
            remove_paths(found)
            removed += found + [lock.path]
        finally:
            lock.release()
    if removed:
        _LOG.warning('Removed what killed writers left in %s: %s', path,
                     ', '.join(os.path.basename(p) for p in removed))
    return removed


def _remove_remote_debris(path: str) -> List[str]:
    """On an object store: for each writer whose lock can be taken (none, or a dead
    holder's lease), finish the version it had claimed, then remove its staging folders.
    Returns what it removed."""
    path = path.rstrip('/')
    names = entries(path)
    writers = sorted({n.split('.')[0] for n in names if n.startswith(NEW_PREFIX)})
    cut_short, published = {}, set(versions(path))   # staged folder -> its claimed version
    for claim in (n for n in names if n.endswith(object_publish.CLAIM_SUFFIX)):
        number = claim[:-len(object_publish.CLAIM_SUFFIX)]
        if VERSION_NAME.fullmatch(number) and int(number) not in published:
            staged = object_publish.claimed(version_path(path, int(number)))
            if staged:
                cut_short[staged] = version_path(path, int(number))
    removed = []
    for key in writers:
        lock = OutputLock(f'{path}/{key}')
        try:
            lock.acquire()   # a live writer's lease cannot be taken
        except OutputLocked:
            continue
        try:
            for staged, final in cut_short.items():
                if staged.startswith(f'{path}/{key}.'):
                    _LOG.warning('Finishing version %s from %s, which a killed writer had '
                                 'claimed', final, staged)
                    object_publish.finish_new(staged, final)
            removed += object_store.remove_leftovers(f'{path}/{key}', LEFTOVER)
        finally:
            lock.release()
    return removed


def _age(file: str) -> Optional[float]:
    try:
        return time.time() - os.stat(file).st_mtime
    except OSError:
        return None


