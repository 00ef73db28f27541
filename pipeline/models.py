"""Finding and checking exported models: one export, or a folder of versioned exports.

``--model`` may name one export of ``imdb-sentiment train`` or a folder of such exports,
of which the newest complete one is used. A folder that is not a complete export is a usage
error (exit 2) before any work, never a failure on the workers.
"""

import logging
import os

from apache_beam.io.filesystems import FileSystems

from pipeline.nightly import UNPUBLISHED, children
from transforms import jsonio, schema
from transforms.beam.inference import export_problem
from transforms.errors import ModelError

_LOG = logging.getLogger(__name__)


def check_model(model_dir: str, flag: str = '--model') -> None:
    """A usage error (exit 2) for a folder that is not a complete export."""
    problem = export_problem(model_dir)
    if problem:
        raise ModelError(f'{flag} {model_dir}: {problem}; '
                         'is it the output folder of `imdb-sentiment train`?')


def _is_export(path: str) -> bool:
    return FileSystems.exists(FileSystems.join(path, schema.SAVED_MODEL_FILE))


def resolve_model(model: str) -> str:
    """One export -> itself; a folder of versioned exports -> the newest complete one.

    Complete means published by ``imdb-sentiment train``: a saved_model.pb that parses,
    its variables, and a manifest with status ok, in a folder that is not a staging
    leftover. Newest is the manifest's ``created`` time, then the folder name.
    """
    if _is_export(model):
        return model
    versions = []
    for path in children(model):
        if UNPUBLISHED.search(os.path.basename(path)) or not _is_export(path):
            continue
        problem = export_problem(path)
        if problem:
            _LOG.warning('Skipping model version %s: %s', path, problem)
            continue
        manifest = FileSystems.join(path, schema.MANIFEST_FILE)
        if not FileSystems.exists(manifest):
            continue
        found = jsonio.read_json(manifest)
        if found.get('status') == 'ok':
            versions.append((found.get('created') or '', os.path.basename(path), path))
    if not versions:
        raise ModelError(f'--model {model}: no saved_model.pb, and no complete exports in '
                         'its subfolders; is it the output of `imdb-sentiment train`?')
    return max(versions)[2]
