"""Publishing an output on an object store (``gs://``), where there is no rename: a commit
object stands in for it, and the next run rolls a cut-short publish forward.

Under the output's lock (``pipeline/runtime/lease.py``), with the new output staged whole
under ``OUT.partial-<id>/`` (its manifest written last):

1. Commit: create ``OUT.commit`` only if absent (``ifGenerationMatch=0``), naming the staged
   folder. From here on the new output wins: the staged folder is not deleted while the
   commit object names it.
2. Delete ``OUT/manifest.json`` first, so that no reader takes ``OUT`` as whole from here on;
   then every other object under ``OUT/``.
3. Copy the staged objects to ``OUT/``, the manifest last, in a request of its own.
4. Delete ``OUT.commit``; then the staged folder.

``recover`` runs on entry, under the lock, before anything is deleted: a commit object left
by a killed run is finished (steps 2 to 4, each of which can be done again), and only then
are the other leftovers of killed runs removed. So at every instant ``OUT`` holds the old
output whole (no commit object: nothing of ``OUT`` was touched), or the new one whole, or no
manifest and a commit object whose staged copy is whole, from which the next run restores
the new one. A reader that finds ``OUT/manifest.json`` finds the output it describes, as far
as a reader that reads the manifest before the files can tell (a publish may begin while it
reads: the manifest's hashes, which model loading checks, tell it).

``publish_new`` publishes at the first of several names that is free, never over anything (a
registry's next version): a name is taken by creating ``NAME.claim`` only if absent, naming
the staged folder; the claim is never removed, so the name is never taken twice. The staged
objects are then copied under ``NAME/``, the manifest last, and the staged folder removed. A
run killed in between leaves a claim whose ``NAME/`` has no manifest yet: ``claimed`` finds
the staged folder it names, and the next writer (once the killed run's lock is taken over)
copies it again with ``finish_new``.
"""

import json
import logging
import re
import uuid
from typing import Callable, Iterable, Optional

from pipeline.runtime import object_store
from transforms import schema
from transforms.jsonio import parse_json_object, utc_now

_LOG = logging.getLogger(__name__)
COMMIT_SUFFIX = '.commit'
CLAIM_SUFFIX = '.claim'


def commit_path(final_path: str) -> str:
    return final_path + COMMIT_SUFFIX


def _has_manifest(folder: str) -> bool:
    return object_store.filesystems().exists(f'{folder}/{schema.MANIFEST_FILE}')


def publish(staged: str, final_path: str) -> None:
    """Makes the whole staged folder ``staged`` (``final_path`` plus a suffix) the output at
    ``final_path``: the steps of the module doc. Call with the output's lock held."""
    if not _has_manifest(staged):
        raise ValueError(f'{staged} has no {schema.MANIFEST_FILE}: it is not whole')
    record = json.dumps({'staged': staged[len(final_path):], 'created': utc_now(),
                         'token': uuid.uuid4().hex}).encode()
    if object_store.create_new(commit_path(final_path), record) is None:
        # Recovery finishes any commit before a run stages: another run is committing.
        raise RuntimeError(f'{commit_path(final_path)} exists: another run is publishing '
                           f'{final_path}')
    _finish(final_path, staged)


def _finish(final_path: str, staged: str) -> None:
    """Steps 2 to 4: safe to do again from any point, while the commit object exists."""
    object_store.delete(f'{final_path}/{schema.MANIFEST_FILE}')
    object_store.remove(final_path)
    object_store.copy_folder(staged, final_path)
    object_store.delete(commit_path(final_path))
    object_store.remove(staged)


def committed(final_path: str, leftover: re.Pattern) -> Optional[str]:
    """The whole staged folder that a commit object beside ``final_path`` names (a publish
    a killed run committed, which the next run finishes), or None. Names that ``leftover``
    does not match are not followed."""
    found = object_store.read_versioned(commit_path(final_path))
    if found is None:
        return None
    suffix = (parse_json_object(found[0]) or {}).get('staged')
    if isinstance(suffix, str) and leftover.fullmatch(suffix) and \
            _has_manifest(final_path + suffix):
        return final_path + suffix
    return None


def keep_failed(staged: str, failed: str) -> None:
    """Moves a failed run's whole staged folder to ``failed`` (beside the output, which it
    never touches): copied, its manifest last; then the staged manifest deleted first, so
    that a staged folder cut short while it is removed is never kept twice."""
    object_store.copy_folder(staged, failed)
    object_store.delete(f'{staged}/{schema.MANIFEST_FILE}')
    object_store.remove(staged)


FAILED = re.compile(r'\.failed-[0-9TZ-]+')


def recover(final_path: str, leftover: re.Pattern,
            failed_path: Optional[Callable[[], str]] = None) -> Optional[str]:
    """Finishes the publish a killed run committed, then deals with what killed runs left
    beside ``final_path`` (names matching ``leftover``): a failed run's whole staged folder is
    kept at ``failed_path()``, a failed run's copy cut short (a ``.failed-`` folder with no
    manifest) is removed, and so is every other leftover. Call with the output's lock held.
    Returns the staged folder it published, or None."""
    staged = committed(final_path, leftover)
    if staged:
        _LOG.warning('Finishing the publish of %s from %s, which an interrupted run '
                     'committed', final_path, staged)
        _finish(final_path, staged)
    elif object_store.delete(commit_path(final_path)):
        # Never written so (a commit object names a whole staged folder): a user's edit.
        _LOG.error('Removed %s, which named no whole staged output', commit_path(final_path))
    kept_already = set()   # the manifests of the failed outputs kept beside
    for kept in object_store.leftovers(final_path, FAILED):
        found = object_store.read_versioned(f'{kept}/{schema.MANIFEST_FILE}')
        if found is None:
            _LOG.warning('Removing %s, a failed run\'s copy that was cut short', kept)
            object_store.remove(kept)
        else:
            kept_already.add(found[0])
    for path in object_store.leftovers(final_path, leftover) if failed_path else []:
        found = object_store.read_versioned(f'{path}/{schema.MANIFEST_FILE}')
        manifest = parse_json_object(found[0]) if found else None
        if manifest is not None and manifest.get('status') != 'ok' and \
                found[0] not in kept_already:   # (kept whole, killed before it was removed)
            kept = failed_path()
            _LOG.warning('Keeping %s, a failed run\'s output, as %s', path, kept)
            keep_failed(path, kept)
    object_store.remove_leftovers(final_path, leftover)
    return staged


def publish_new(staged: str, candidates: Iterable[str]) -> Optional[str]:
    """Publishes the whole staged folder at the first of ``candidates`` that this run claims
    (``NAME.claim`` created only if absent) and under which nothing lies; returns it, or None
    when every candidate was taken. Call with the staged folder's lock held."""
    if not _has_manifest(staged):
        raise ValueError(f'{staged} has no {schema.MANIFEST_FILE}: it is not whole')
    for final in candidates:
        record = json.dumps({'staged': staged, 'created': utc_now(),
                             'token': uuid.uuid4().hex}).encode()
        if object_store.create_new(final + CLAIM_SUFFIX, record) is None:
            continue   # another writer's
        if object_store.list_objects(final):
            _LOG.warning('%s holds objects no writer claimed: left as it is', final)
            continue
        finish_new(staged, final)
        return final
    return None


def finish_new(staged: str, final: str) -> None:
    """Copies the staged folder under ``final`` (the manifest last), then removes it: safe to
    do again from any point."""
    object_store.copy_folder(staged, final)
    object_store.remove(staged)


def claimed(final: str) -> Optional[str]:
    """The staged folder that ``final``'s claim names, when its publish was cut short: the
    claim is there, ``final`` has no manifest yet and the staged folder has one. Else None."""
    found = object_store.read_versioned(final + CLAIM_SUFFIX)
    staged = (parse_json_object(found[0]) or {}).get('staged') if found else None
    if isinstance(staged, str) and staged.startswith(final.rsplit('/', 1)[0] + '/') and \
            not _has_manifest(final) and _has_manifest(staged):
        return staged
    return None
