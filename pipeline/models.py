"""Finding and checking exported models: one export, or a folder of versioned exports.

``--model`` may name one export of ``imdb-sentiment train`` or a folder of such exports,
of which the newest complete one is used. A folder that is not a complete export is a usage
error (exit 2) before any work, never a failure on the workers.
"""

import logging
import os

from apache_beam.io.filesystems import FileSystems

from pipeline.nightly import UNPUBLISHED, children
from transforms import schema
from transforms.beam.inference import export_problem, read_model_manifest, verify_export
from transforms.errors import ModelError

_LOG = logging.getLogger(__name__)


def check_model(model_dir: str, flag: str = '--model') -> None:
    """A usage error (exit 2) for a folder that is not a complete, intact export: its files
    must be those its manifest lists, with their sizes and SHA-256."""
    problem = export_problem(model_dir) or verify_export(model_dir)
    if problem:
        raise ModelError(f'{flag} {model_dir}: {problem}; '
                         'is it the output folder of `imdb-sentiment train`?')


def _is_export(path: str) -> bool:
    return FileSystems.exists(FileSystems.join(path, schema.SAVED_MODEL_FILE))


def resolve_model(model: str) -> str:
    """One export -> itself, verified; a folder of versioned exports -> the newest one that
    verifies.

    Verified means published by ``imdb-sentiment train`` and intact: a saved_model.pb that
    parses, and the files its manifest lists with their sizes and hashes, in a folder that
    is not a staging leftover. Newest is the manifest's ``created`` time, then the folder
    name. A version that fails is skipped with a warning (a copy still arriving, a damaged
    file), and the next newest is tried.
    """
    if _is_export(model):
        check_model(model)
        return model
    candidates = []
    for path in children(model):
        if UNPUBLISHED.search(os.path.basename(path)) or not _is_export(path):
            continue
        manifest = read_model_manifest(path) or {}
        candidates.append((str(manifest.get('created') or ''), os.path.basename(path), path))
    for _, _, path in sorted(candidates, reverse=True):
        problem = export_problem(path) or verify_export(path)
        if problem:
            _LOG.warning('Skipping model version %s: %s', path, problem)
            continue
        return path
    raise ModelError(f'--model {model}: no saved_model.pb, and no complete exports in '
                     'its subfolders; is it the output of `imdb-sentiment train`?')
