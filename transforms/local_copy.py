"""Copying folders between an object store and a local disk, for what TensorFlow must read or
write as files.

TensorFlow reads and writes paths through its own file systems, whose GCS client has its own
endpoint and credentials; every other read and write of the jobs goes through Beam's
``FileSystems``. So a job that needs TensorFlow on files (the trainer with its TFRecords and
transform graph, a SavedModel being loaded) works on a local folder, which is copied from the
object store before and to it after, here, through ``FileSystems``. Bytes are copied as they
are: a ``.gz`` object is neither decompressed on the way down nor compressed on the way up.
"""

import os
import shutil
from typing import Iterable, List, Optional

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

_AS_IS = CompressionTypes.UNCOMPRESSED
_BLOCK = 1 << 20
# This process's client for ranged reads on gs://: each new client looks the bucket up.
_gcs = None


def is_remote(path: str) -> bool:
    """Whether ``path`` is on an object store (``gs://...``), not a local disk."""
    return '://' in path


def relative_files(folder: str) -> List[str]:
    """The paths, relative to ``folder`` and with '/', of every file or object under it;
    not the empty ``name/`` objects that TensorFlow's GCS client makes for its folders."""
    folder = folder.rstrip('/')
    found = FileSystems.match([folder + '/**'])[0].metadata_list
    return sorted(m.path[len(folder) + 1:] for m in found if not m.path.endswith('/'))


def download(source: str, target: str, files: Iterable[str]) -> None:
    """Copies each of ``files`` (relative, with '/') from the folder ``source`` into the local
    folder ``target``; raises OSError (or Beam's error) for a file that cannot be read."""
    source = source.rstrip('/')
    for rel in files:
        local = os.path.join(target, *rel.split('/'))
        os.makedirs(os.path.dirname(local), exist_ok=True)
        with FileSystems.open(f'{source}/{rel}', compression_type=_AS_IS) as f, \
                open(local, 'wb') as out:
            shutil.copyfileobj(f, out, _BLOCK)


def upload(source: str, target: str) -> List[str]:
    """Copies every file under the local folder ``source`` to the same name under ``target``;
    returns their relative paths."""
    target = target.rstrip('/')
    copied = []
    for folder, _, names in os.walk(source):
        for name in sorted(names):
            local = os.path.join(folder, name)
            rel = os.path.relpath(local, source).replace(os.sep, '/')
            with open(local, 'rb') as f, FileSystems.create(f'{target}/{rel}',
                                                            compression_type=_AS_IS) as out:
                shutil.copyfileobj(f, out, _BLOCK)
            copied.append(rel)
    return sorted(copied)


def read_range(path: str, start: int, end: Optional[int] = None) -> bytes:
    """The bytes of the file or object at ``path`` from ``start`` up to ``end`` (exclusive;
    None: to its end), as stored (no decompression). On gs:// a bounded range is one ranged
    download of exactly those bytes: Beam's reader asks for the object's metadata first and
    then downloads a whole read buffer (16 MiB)."""
    if end is not None and end <= start:
        return b''
    if path.startswith('gs://') and end is not None:
        global _gcs
        from apache_beam.io.gcp import gcsio
        if _gcs is None:
            _gcs = gcsio.GcsIO()
        bucket, name = gcsio.parse_gcs_path(path)
        return _gcs.client.bucket(bucket).blob(name).download_as_bytes(
            start=start, end=end - 1, raw_download=True)
    with FileSystems.open(path, compression_type=_AS_IS) as f:
        f.seek(start)
        return f.read() if end is None else f.read(end - start)
