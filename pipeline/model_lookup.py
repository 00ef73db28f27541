"""Finding and checking exported models: one export, a model registry, or a folder of exports.

``--model`` may name one export of ``imdb-sentiment train``; a model registry
(``pipeline.registry``), whose champion is used (or, before any promotion, its newest
version); or any folder of exports, of which the newest that verifies is used. A model that
does not verify is a usage error (exit 2) before any work, never a failure on the workers.
"""

import logging
import os
from typing import Dict

from apache_beam.io.filesystems import FileSystems

from pipeline import registry
from pipeline.nightly import UNPUBLISHED, children
from pipeline.runtime import object_store
from transforms import schema
from transforms.beam.inference import (export_problem, model_sha256, read_model_manifest,
                                        verify_export)
from transforms.errors import ModelError

_LOG = logging.getLogger(__name__)


def check_model(model_dir: str, flag: str = '--model') -> None:
    """A usage error (exit 2) for a folder that is not a complete, intact export: its files
    must be those its manifest lists, with their sizes and SHA-256."""
    problem = export_problem(model_dir) or verify_export(model_dir)
    if problem:
        raise ModelError(f'{flag} {model_dir}: {problem}; '
                         'is it the output folder of `imdb-sentiment train`?')


def is_export(path: str) -> bool:
    return FileSystems.exists(FileSystems.join(path, schema.SAVED_MODEL_FILE))


def resolve_model(model: str, flag: str = '--model', champion: bool = True) -> str:
    """One export -> itself, verified; a folder of versioned exports -> the newest one that
    verifies.

    Verified means published by ``imdb-sentiment train`` and intact: a saved_model.pb that
    parses, and the files its manifest lists with their sizes and hashes, in a folder that
    is not a staging leftover. Newest is the manifest's ``created`` time, then the folder
    name. A version that fails is skipped with a warning (a copy still arriving, a damaged
    file), and the next newest is tried.
    """
    if is_export(model):
        check_model(model, flag)
        return model
    if registry.is_registry(model):
        return _from_registry(model, flag, champion)
    candidates = []
    for path in children(model):
        if UNPUBLISHED.search(os.path.basename(path)) or not is_export(path):
            continue
        manifest = read_model_manifest(path) or {}
        candidates.append((str(manifest.get('created') or ''), os.path.basename(path), path))
    for _, _, path in sorted(candidates, reverse=True):
        problem = export_problem(path) or verify_export(path)
        if problem:
            _LOG.warning('Skipping model version %s: %s', path, problem)
            continue
        return path
    raise ModelError(f'{flag} {model}: no saved_model.pb, and no complete exports in '
                     'its subfolders; is it the output of `imdb-sentiment train`?')


def _from_registry(path: str, flag: str, champion: bool) -> str:
    """The champion's version folder, verified; before any promotion (or with ``champion``
    False: the newest candidate), the newest version that verifies."""
    record = registry.champion(path) if champion else None
    if record:
        version = registry.version_path(path, record.get('version'))
        problem = export_problem(version) or verify_export(version)
        sha = registry.content_sha256(path, record['version'])
        if not problem and record.get(registry.SHA256_KEY) not in (None, sha):
            problem = (f'it holds other content than was promoted: SHA-256 {str(sha)[:12]}, '
                       f'{registry.CHAMPION_FILE} says {record[registry.SHA256_KEY][:12]}')
        if problem:
            raise ModelError(f'{flag} {path}: its champion, version {record.get("version")}, '
                             f'does not verify ({problem}); `imdb-sentiment models rollback '
                             f'{path}` goes back to the champion before it')
        return version
    for number in reversed(registry.versions(path)):
        version = registry.version_path(path, number)
        problem = export_problem(version) or verify_export(version)
        if problem:
            _LOG.warning('Skipping model version %s: %s', version, problem)
            continue
        if champion:
            _check_not_refused(path, number, flag)
        return version
    raise ModelError(f'{flag} {path}: a model registry with no version that verifies')


def _check_not_refused(path: str, number: int, flag: str) -> None:
    """With no champion, the newest version serves only if the gate did not refuse it: a
    usage error (exit 2) for one not blessed; a warning for one never evaluated."""
    verdict = registry.verdict(path, number)
    if verdict is not None and not verdict.get('blessed'):
        raise ModelError(f'{flag} {path}: no champion, and its newest version, {number}, '
                         f'is not blessed (the gate refused it); promote a version with '
                         f'`imdb-sentiment models promote {path} VERSION`')
    _LOG.warning('%s has no champion yet: using its newest version, %d, %s (promote one '
                 'with `imdb-sentiment models promote`)', path, number,
                 'never evaluated' if verdict is None else 'blessed')


def same_model(a: Dict, b: Dict) -> bool:
    """Whether two ``describe`` blocks name the same model: by content (``sha256``) when
    both have one, else (blocks written before it) by path and training time."""
    if a.get('sha256') and b.get('sha256'):
        return a['sha256'] == b['sha256']
    return all(a.get(k) == b.get(k) for k in ('path', 'created'))


def describe(path: str) -> Dict:
    """What a manifest records of the model a job used: its path, its content hash
    (``model_sha256``), and its version and registry when it is a registry's version,
    with the time it was trained."""
    found = {'path': path, 'created': (read_model_manifest(path) or {}).get('created'),
             registry.SHA256_KEY: model_sha256(path)}
    parent = object_store.parent(path)
    number = path.rstrip('/').rsplit('/', 1)[-1]
    if number.isdigit() and registry.is_registry(parent):
        found.update(version=int(number), registry=parent,
                     champion=(registry.champion(parent) or {}).get('version') == int(number))
    return found


def token_length(path: str, default: int = schema.DEFAULT_MAX_TOKENS) -> int:
    """How many tokens of a review the network reads (its ``max_tokens``): occluding a
    token beyond them could not change the LSTM's score."""
    found = ((read_model_manifest(path) or {}).get('model') or {}).get('max_tokens')
    return found if isinstance(found, int) and found > 0 else default
