"""The steps of publishing an output on an object store (``gs://``), through Beam's file systems.

An object store has objects, not folders: a "folder" ``gs://b/out`` is every object whose name
starts with ``out/``. So removing it lists that prefix and deletes what it finds (asking
whether ``gs://b/out`` exists, as a local disk would be asked, finds nothing there and deletes
nothing), and what runs leave beside an output (``out.partial-<id>/...``) is found by listing
too. There is no rename either: a folder is moved object by object, its manifest last.
``unsupported`` names the stores no job can use (S3), which the command line refuses.

Not built yet: a lock, and a commit that makes the move atomic (see ARCHITECTURE.md).
"""

import logging
import re
from typing import List, Optional

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


def move_folder(source: str, target: str) -> None:
    """Moves every object under ``source/`` to the same name under ``target/``, the manifest
    last, so that a reader who finds the manifest finds the rest."""
    source, target = _checked(source), _checked(target)
    files = list_objects(source)
    files.sort(key=lambda p: p.endswith('/' + schema.MANIFEST_FILE))
    filesystems().rename(files, [target + p[len(source):] for p in files])


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

    With no lock on object stores yet, a run of the same output that is still alive is not
    told from a dead one: two runs of one object-store output must not overlap."""
    found = leftovers(final_path, pattern)
    for path in found:
        _LOG.warning('Removing %s, left by an earlier run of this output that was killed',
                     path)
        remove(path)
    return found
