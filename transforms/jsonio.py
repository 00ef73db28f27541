"""Small JSON files: manifests, statistics, and the fields every manifest carries.

Reading and writing go through Beam's ``FileSystems``, so local paths and object stores
(``gs://``, ``s3://``) behave the same. Publishing an output is the launcher's
(``pipeline.runtime.publish``).
"""

import datetime
import hashlib
import json
import platform
from importlib import metadata
from typing import Dict, List, Optional

from apache_beam.io.filesystems import FileSystems


_PACKAGES = ('imdb-sentiment', 'apache-beam', 'tensorflow', 'tensorflow-transform',
             'tfx-bsl', 'keras', 'numpy', 'pandas', 'scikit-learn')


def versions() -> Dict[str, str]:
    """Python and the versions of the libraries that decide the results."""
    found = {'python': platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')


def file_sha256(path: str) -> str:
    """The SHA-256 of a file's bytes, read in blocks (local or on an object store)."""
    digest = hashlib.sha256()
    with FileSystems.open(path, compression_type='uncompressed') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def json_bytes(data: Dict) -> bytes:
    """How every small JSON file of the project is written: indented, keys sorted."""
    return (json.dumps(data, indent=2, sort_keys=True, default=str) + '\n').encode('utf-8')


def write_json(path: str, data: Dict) -> None:
    """One file (on an object store: one object, which a reader sees whole or not at all)."""
    with FileSystems.create(path) as f:
        f.write(json_bytes(data))


def read_json(path: str) -> Dict:
    with FileSystems.open(path) as f:
        return json.loads(f.read().decode('utf-8'))


def read_json_object(path: str) -> Optional[Dict]:
    """A JSON file's object (local, or on an object store), or None when it is missing,
    unreadable or not an object (a record being written, or one a user broke): the caller
    decides what that means."""
    try:
        if '://' not in path:
            with open(path, 'rb') as f:
                data = f.read()
        else:
            with FileSystems.open(path, compression_type='uncompressed') as f:
                data = f.read()
    except Exception:  # noqa: BLE001 - OSError, or the store's own error for a missing object
        return None
    return parse_json_object(data)


def parse_json_object(data: bytes) -> Optional[Dict]:
    """The JSON object ``data`` holds, or None when it holds anything else."""
    try:
        found = json.loads(data.decode('utf-8'))
    except ValueError:  # UnicodeDecodeError is one
        return None
    return found if isinstance(found, dict) else None


def read_json_lines(pattern: str) -> List[Dict]:
    """All JSON rows of the small files matching ``pattern`` (for job statistics).

    Split on '\\n' alone: str.splitlines() would also split inside a review at U+0085,
    U+2028 or U+2029, which JSON leaves unescaped."""
    rows = []
    for m in FileSystems.match([pattern])[0].metadata_list:
        with FileSystems.open(m.path) as f:
            text = f.read().decode('utf-8')
        rows.extend(json.loads(line) for line in text.split('\n') if line.strip())
    return rows

