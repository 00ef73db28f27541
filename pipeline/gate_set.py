"""The gate set: the trusted labelled reviews every candidate of a registry is judged on.

A registry's gate set is ``REGISTRY/gate_set/``: copies of labelled review files (CSV files,
or aclImdb folders' pos/ and neg/) under ``reviews/``, and ``manifest.json`` naming where they
came from, how many labelled reviews they hold, each file's SHA-256 and one SHA-256 of them all.

It is pinned when the registry's first champion is made (the reviews of the evaluation that
blessed it: ``imdb-sentiment models promote``), or on purpose with ``imdb-sentiment models
gate-set REGISTRY --data FILE --reason WHY``, and replaced only with ``--replace``: so a new
file's labels (flipped, a wrong column) can never be the only yardstick of the model trained
on them. ``evaluate`` checks every hash before it trusts the set.

In a registry on an object store (``gs://``) the set is made in a local folder and published
as any output is there (``pipeline/runtime/publish.StagedOutput``: a lease for the lock, the
manifest last, a commit object the next writer rolls forward); the set it replaces is copied
beside it first.
"""

import csv
import gzip
import hashlib
import logging
import os
import shutil
import tempfile
import uuid
from typing import Dict, List, Optional, Sequence

from apache_beam.io.filesystems import FileSystems

from pipeline import registry
from pipeline.runtime import object_store
from pipeline.runtime.guard import OutputLock
from pipeline.runtime.publish import StagedOutput
from transforms import features, jsonio, schema
from transforms.beam.inputs import ACLIMDB, resolve_inputs
from transforms.errors import ModelError
from transforms.local_copy import is_remote, relative_files, upload

_LOG = logging.getLogger(__name__)

FOLDER = 'gate_set'
REVIEWS_DIR = 'reviews'
_STAGING = '.partial-'
_REPLACED = '.replaced-'


def folder(registry_path: str) -> str:
    return os.path.join(registry_path, FOLDER)


def manifest(registry_path: str) -> Optional[Dict]:
    """The gate set's manifest, or None when the registry has none."""
    return jsonio.read_json_object(os.path.join(folder(registry_path), schema.MANIFEST_FILE))


def _combined(files: Dict[str, str]) -> str:
    """One SHA-256 for the whole set: of each file's relative path and SHA-256, in order."""
    return hashlib.sha256(''.join(f'{rel} {sha}\n' for rel, sha in sorted(files.items()))
                          .encode('utf-8')).hexdigest()


def _labelled_rows(path: str) -> int:
    """The rows of a CSV file whose label is one of the label values."""
    with _open(path, 'rt') as f:
        return sum(1 for row in csv.DictReader(f)
                   if (row.get(features.LABEL.csv) or '').strip().lower() in schema.LABEL_VALUES)


def _copy_file(file: str, target: str) -> str:
    """Copies the bytes of ``file`` (local, or on an object store) to the local ``target``."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if not is_remote(file):
        return shutil.copyfile(file, target)
    with FileSystems.open(file, compression_type='uncompressed') as f, open(target, 'wb') as out:
        shutil.copyfileobj(f, out, 1 << 20)
    return target


def _copy(specs, into: str) -> List[str]:
    """Copies each input under ``into`` with a name of its own (gate-<i>...), so that the
    gate set's review ids never collide with a new file's; returns evaluate's --data paths,
    relative to the gate set's folder."""
    fetched = os.path.join(into, '.fetched')   # inputs on an object store, read locally
    data = []
    for i, spec in enumerate(specs):
        if spec.format == ACLIMDB:
            rel = os.path.join(REVIEWS_DIR, f'gate-{i}')
            for file in spec.files:
                _copy_file(file, os.path.join(into, rel, *file.replace('\\', '/').split('/')[-2:]))
            data.append(rel)
            continue
        for j, file in enumerate(spec.files):
            suffix = '.csv.gz' if file.endswith('.gz') else '.csv'
            rel = os.path.join(REVIEWS_DIR, f'gate-{i}-{j}{suffix}')
            if features.ID.csv in spec.columns:
                local = file if not is_remote(file) else _copy_file(file, os.path.join(fetched, rel))
                _copy_with_ids(local, os.path.join(into, rel))
            else:
                _copy_file(file, os.path.join(into, rel))
            data.append(rel)
    shutil.rmtree(fetched, ignore_errors=True)
    return data


def _open(path: str, mode: str):
    opener = gzip.open if path.endswith('.gz') else open
    return opener(path, mode, encoding='utf-8', newline='')


def _copy_with_ids(source: str, target: str) -> None:
    """A CSV copy whose ids are ``gate_set/<id>``: a new file judged beside the gate set
    (the same file's next split, say) keeps its own ids, and no review of either is taken
    for a repeat of the other's."""
    with _open(source, 'rt') as f, _open(target, 'wt') as out:
        reader, writer = csv.reader(f), csv.writer(out)
        header = next(reader)
        writer.writerow(header)
        at = header.index(features.ID.csv)
        for row in reader:
            if at < len(row) and row[at]:
                row[at] = f'{FOLDER}/{row[at]}'
            writer.writerow(row)


def _hashes(root: str) -> Dict[str, str]:
    if is_remote(root):
        return {rel: jsonio.file_sha256(f'{root}/{rel}') for rel in relative_files(root)
                if rel.startswith(REVIEWS_DIR + '/')}
    found = {}
    for parent, _, names in os.walk(os.path.join(root, REVIEWS_DIR)):
        for name in names:
            path = os.path.join(parent, name)
            found[os.path.relpath(path, root).replace(os.sep, '/')] = jsonio.file_sha256(path)
    return found


def _count(root: str, data: Sequence[str]) -> int:
    total = 0
    for rel in data:
        path = os.path.join(root, rel)
        if os.path.isdir(path):
            total += sum(len(os.listdir(os.path.join(path, d))) for d in schema.ACLIMDB_LABEL_DIRS
                         if os.path.isdir(os.path.join(path, d)))
        else:
            total += _labelled_rows(path)
    return total


def pin(registry_path: str, data: Sequence[str], reason: str, replace: bool = False,
        by: str = 'imdb-sentiment models gate-set') -> Dict:
    """Copies the labelled reviews of ``data`` into the registry as its gate set; returns
    its manifest. Refuses (ModelError, exit 2) to replace a gate set unless ``replace``, and
    a set with no labelled review. The old set is kept beside it, renamed."""
    names = registry.entries(registry_path)
    if names and not registry.is_registry(registry_path) and FOLDER not in names:
        raise ModelError(f'{registry_path}: not a model registry (no version folders, no '
                         f'{registry.CHAMPION_FILE}); pin a gate set in a registry')
    specs = resolve_inputs(list(data))
    target = folder(registry_path)

    def build(staging: str) -> Dict:
        """The set, made in the local folder ``staging``: its manifest (not written yet)."""
        current = manifest(registry_path)
        if current and not replace:
            raise ModelError(f'{registry_path} has a gate set already ({current["count"]} '
                             f'reviews of {", ".join(current["source"])}, pinned '
                             f'{current["created"]}); replace it on purpose with --replace')
        os.makedirs(os.path.join(staging, REVIEWS_DIR))
        rel_data = _copy(specs, staging)
        count = _count(staging, rel_data)
        if not count:
            raise ModelError(f'--data {" ".join(data)}: no labelled review to judge on')
        files = _hashes(staging)
        return {'source': [s.path for s in specs], 'data': rel_data, 'count': count,
                'files': files, 'sha256': _combined(files), 'created': jsonio.utc_now(),
                'by': by, 'reason': reason,
                'replaces': current and {k: current.get(k) for k in (
                    'source', 'count', 'sha256', 'created', 'reason')}}

    replaced = f'{target}{_REPLACED}{jsonio.utc_now().replace(":", "")}'
    if is_remote(target):
        with StagedOutput(target) as out, tempfile.TemporaryDirectory() as scratch:
            found = build(os.path.join(scratch, FOLDER))
            upload(os.path.join(scratch, FOLDER), out.path)
            out.write_manifest(found)
            if found['replaces']:
                object_store.copy_folder(target, replaced)
            out.publish()
        return found
    with OutputLock(target):
        staging = f'{target}{_STAGING}{uuid.uuid4().hex[:8]}'
        try:
            found = build(staging)
            jsonio.write_json(os.path.join(staging, schema.MANIFEST_FILE), found)
            if found['replaces'] or os.path.lexists(target):
                os.replace(target, replaced)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return found   # the models command prints it (describe)


def verified(registry_path: str) -> Optional[Dict]:
    """The gate set's manifest with ``paths`` (evaluate's --data) once every file's SHA-256
    matches it; None when the registry has none. A set that does not verify is an error
    (exit 2): a candidate must never be judged on reviews someone changed."""
    root = folder(registry_path)
    if not (relative_files(root) if is_remote(root) else os.path.lexists(root)):
        return None
    found = manifest(registry_path)
    problem = None if found else f'{root}/{schema.MANIFEST_FILE} is missing or unreadable'
    if found:
        actual, listed = _hashes(root), found.get('files') or {}
        changed = sorted(set(actual) ^ set(listed) | {
            r for r in actual if r in listed and actual[r] != listed[r]})
        if changed:
            problem = f'{len(changed)} file(s) changed, added or missing, e.g. {changed[0]}'
        elif _combined(actual) != found.get('sha256'):
            problem = 'its sha256 does not match its files'
    if problem:
        raise ModelError(f'the gate set of {registry_path} does not verify ({problem}); pin '
                         f'it again with `imdb-sentiment models gate-set {registry_path} --data '
                         f'FILE --reason WHY --replace`')
    if is_remote(root):
        return dict(found, paths=[f'{root}/{rel}' for rel in found['data']])
    return dict(found, paths=[os.path.join(os.path.abspath(root), rel) for rel in found['data']])


def describe(found: Optional[Dict]) -> str:
    """One line on a gate set (its manifest)."""
    if not found:
        return 'gate set: none yet (pinned at the first promotion, or `models gate-set`)'
    return (f'gate set: {found["count"]} labelled reviews of {", ".join(found["source"])}, '
            f'sha256 {found["sha256"][:12]}, pinned {found["created"]}'
            + (f' ({found["reason"]})' if found.get('reason') else ''))
