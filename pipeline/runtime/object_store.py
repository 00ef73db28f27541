"""The steps of publishing an output on an object store (``gs://``), through Beam's file systems.

An object store has objects, not folders: a "folder" ``gs://b/out`` is every object whose name
starts with ``out/``. So removing it lists that prefix and deletes what it finds (asking
whether ``gs://b/out`` exists, as a local disk would be asked, finds nothing there and deletes
nothing), and what runs leave beside an output (``out.partial-<id>/...``) is found by listing
too. There is no rename either: a folder is copied object by object, its manifest last.
``unsupported`` names the stores no job can use (S3), which the command line refuses.

What stands in for a rename is a write under a precondition (GCS's ``ifGenerationMatch``):
``create_new`` creates an object only if it is absent, ``replace_if`` replaces one only if it
is still the generation that was read (compare-and-swap), ``read_versioned`` reads one with
its generation. The lock (``pipeline/runtime/lease.py``) and the commit of a publish
(``pipeline/runtime/object_publish.py``) are built on them. A small file that only a lock
holder writes needs no precondition: ``upload`` replaces it whole, in one request (the
nights' history, ``pipeline/history.py``). They go through google-cloud-storage with the
client Beam's own GCS file system makes (its credentials, and the endpoint the library finds
by itself).
"""

import logging
import os
import re
from typing import List, Optional, Sequence, Tuple

from transforms import schema

_LOG = logging.getLogger(__name__)


def is_local(path: str) -> bool:
    """Whether ``path`` is on a local disk, not on an object store (``gs://...``)."""
    return '://' not in path


def filesystems():
    """Beam's ``FileSystems``, imported only when an object store is used (it loads Beam)."""
    from apache_beam.io.filesystems import FileSystems
    return FileSystems


# Besides a local disk, a path may be on gs://. Not on S3: this install has no boto3, so Beam's
# S3 file system cannot start (it would read as a missing input), and TensorFlow has no s3://.
_UNSUPPORTED = re.compile(r'(?<![A-Za-z0-9])(s3)://', re.IGNORECASE)


def unsupported(text: str) -> Optional[str]:
    """Why a path (or a command line fragment holding one) cannot be used, or None."""
    if _UNSUPPORTED.search(text):
        return 'S3 (s3://) is not supported; use a local path or gs://'
    return None


def is_bucket(path: str) -> bool:
    """``gs://b`` or ``gs://b/``: a whole bucket, not a folder in one."""
    rest = path.partition('://')[2].strip('/')
    return '/' not in rest


def absolute(path: str) -> str:
    """A local path made absolute; an object store's path as it is (it is absolute)."""
    return os.path.abspath(path) if is_local(path) else path


def parent(path: str) -> str:
    """The folder holding ``path`` (a local path made absolute); a bucket's parent is itself,
    as ``/`` is its own."""
    if is_local(path):
        return os.path.dirname(os.path.abspath(path.rstrip(os.sep) or os.sep))
    return path.rstrip('/') if is_bucket(path) else path.rstrip('/').rsplit('/', 1)[0]


def _checked(path: str) -> str:
    """``path`` without its trailing slash; a bucket's root is refused, never emptied."""
    if is_bucket(path):
        raise ValueError(f'{path} is a bucket, not a folder in one')
    return path.rstrip('/')


def list_objects(folder: str) -> List[str]:
    """Every object under ``folder/``, sorted (one listing)."""
    folder = _checked(folder)
    return sorted(m.path for m in filesystems().match([folder + '/**'])[0].metadata_list)


def remove(path: str) -> None:
    """Removes every object under ``path/``, and the object ``path`` itself if there is one.

    Beam deletes a prefix with one listing and batches of deletes, but only logs what a batch
    failed to delete; so what is still listed afterwards is deleted again, object by object,
    and an error there is raised."""
    path = _checked(path)
    fs = filesystems()
    fs.delete([path + '/'])
    left = list_objects(path)
    if fs.exists(path):
        left.append(path)
    if left:
        fs.delete(left)


def copy(sources: Sequence[str], targets: Sequence[str]) -> None:
    """Copies each object of ``sources`` to the same place in ``targets``, one request each.

    TensorFlow marks an empty folder on GCS with an empty object whose name ends in ``/``.
    Beam's ``FileSystems.copy`` takes such a name for a folder and copies every object under
    it again (51 copies for preprocess's 19 objects), so a marker is copied as the one
    object it is."""
    pairs = list(zip(sources, targets))
    files = [(s, t) for s, t in pairs if not s.endswith('/')]
    if files:
        filesystems().copy([s for s, _ in files], [t for _, t in files])
    markers = [(s, t) for s, t in pairs if s.endswith('/')]
    if markers:
        from apache_beam.io.gcp import gcsio
        store = gcsio.GcsIO()
        for source, target in markers:
            store.copy(source, target)


def copy_folder(source: str, target: str) -> None:
    """Copies every object under ``source/`` to the same name under ``target/``: the
    manifest in a request of its own, last, so that a reader who finds it finds the rest."""
    source, target = _checked(source), _checked(target)
    files = list_objects(source)
    manifest = [p for p in files if p == f'{source}/{schema.MANIFEST_FILE}']
    rest = [p for p in files if p not in manifest]
    copy(rest, [target + p[len(source):] for p in rest])
    copy(manifest, [target + p[len(source):] for p in manifest])


def move_folder(source: str, target: str) -> None:
    """Moves every object under ``source/`` to the same name under ``target/``, the manifest
    last; then removes ``source``."""
    copy_folder(source, target)
    remove(source)


# --- Writes under a precondition (gs:// only) ------------------------------------------

def _blob(path: str):
    """The google-cloud-storage Blob of a ``gs://bucket/name`` path, through a client made
    as Beam's GCS file system makes one (a client per use, as Beam does)."""
    scheme, _, rest = path.partition('://')
    bucket, _, name = rest.partition('/')
    if scheme != 'gs' or not bucket or not name:
        raise ValueError(f'{path}: writes under a precondition need a gs://bucket/object path')
    from apache_beam.io.gcp import gcsio
    return gcsio.GcsIO().client.bucket(bucket).blob(name)


def _errors():
    from google.api_core import exceptions
    return exceptions


def read_versioned(path: str) -> Optional[Tuple[bytes, int]]:
    """The object's bytes and the generation they belong to (one request), or None."""
    blob = _blob(path)
    try:
        data = blob.download_as_bytes()
    except _errors().NotFound:
        return None
    return data, int(blob.generation)


def _conditional_upload(path: str, data: bytes, generation: int) -> Optional[int]:
    blob = _blob(path)
    try:
        blob.upload_from_string(data, if_generation_match=generation)
    except _errors().PreconditionFailed:
        # The library retries a request that timed out; if the first try had succeeded, the
        # retry fails its precondition on our own write. ``data`` is unique to its writer
        # (it holds a random token), so finding it there means the write was ours.
        found = read_versioned(path)
        return found[1] if found is not None and found[0] == data else None
    return int(blob.generation)


def upload(path: str, data: bytes, content_type: str) -> None:
    """Writes the object whole, in one request: a reader finds the object before it or this
    one, never a part (what a temporary file and a rename give on a local disk)."""
    _blob(path).upload_from_string(data, content_type=content_type)


def create_new(path: str, data: bytes) -> Optional[int]:
    """Creates the object only if there is none (``ifGenerationMatch=0``): its generation,
    or None when it exists. ``data`` must be unique to this writer (see above)."""
    return _conditional_upload(path, data, 0)


def replace_if(path: str, data: bytes, generation: int) -> Optional[int]:
    """Compare-and-swap: replaces the object only if it is still at ``generation``; the new
    generation, or None when it has changed or is gone. ``data`` unique, as above."""
    return _conditional_upload(path, data, generation)


def delete(path: str, generation: Optional[int] = None) -> bool:
    """Deletes the object (only if still at ``generation``, when one is given); False when
    it is missing or has changed."""
    try:
        _blob(path).delete(if_generation_match=generation)
    except (_errors().NotFound, _errors().PreconditionFailed):
        return False
    return True


def leftovers(final_path: str, pattern: re.Pattern) -> List[str]:
    """The folders beside ``final_path`` whose names are its name plus a suffix that
    ``pattern`` matches whole (``out.partial-1a2b3c4d``): one listing."""
    final_path = _checked(final_path)
    found = set()
    for m in filesystems().match([final_path + '.*/**'])[0].metadata_list:
        suffix = m.path[len(final_path):].split('/', 1)[0]
        if pattern.fullmatch(suffix):
            found.add(final_path + suffix)
    return sorted(found)


def remove_leftovers(final_path: str, pattern: re.Pattern) -> List[str]:
    """Removes what killed runs of ``final_path`` left beside it; returns what it removed.
    Call with the output's lock held: then no run that left them is alive."""
    found = leftovers(final_path, pattern)
    for path in found:
        _LOG.warning('Removing %s, left by an earlier run of this output that was killed',
                     path)
        remove(path)
    return found
