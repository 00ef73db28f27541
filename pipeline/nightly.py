"""The nightly side of scoring: date partitions, versioned models, the previous night.

A nightly run writes ``OUTPUT/dt=YYYY-MM-DD/``; rerunning a date replaces that
partition atomically (``transforms.outputs.StagedOutput``). ``--model`` may name one
export or a folder of versioned exports, of which the newest complete one is used.
"""

import datetime
import logging
import os
import re
from typing import List, Optional

from apache_beam.io.filesystems import FileSystems

from transforms import outputs
from transforms import features
from transforms.errors import InputError, ModelError

_LOG = logging.getLogger(__name__)
PARTITION_PREFIX = 'dt='
_DATE = re.compile(r'^\d{4}-\d{2}-\d{2}$')
# Folders a staged write leaves behind while it runs or after it was interrupted.
_UNPUBLISHED = re.compile(r'\.(partial|old)-[0-9a-f]{8}$')


def today_utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()


def parse_date(text: str) -> str:
    """``YYYY-MM-DD`` or ``today`` (UTC) -> the ISO date; InputError otherwise."""
    if text == 'today':
        return today_utc()
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        raise InputError(f'--date {text}: expected YYYY-MM-DD (or today)') from None


def partition_path(output: str, date: str) -> str:
    return FileSystems.join(output.rstrip('/'), f'{PARTITION_PREFIX}{date}')


def _children(folder: str) -> List[str]:
    """The immediate subfolders of ``folder`` (local or on an object store)."""
    folder = folder.rstrip('/')
    if '://' not in folder:
        if not os.path.isdir(folder):
            return []
        return sorted(os.path.join(folder, n) for n in os.listdir(folder)
                      if os.path.isdir(os.path.join(folder, n)))
    found = set()
    for m in FileSystems.match([folder + '/*/*'])[0].metadata_list:
        found.add(m.path[:m.path.rindex('/')])
    return sorted(found)


def previous_partition(output: str, date: str) -> Optional[str]:
    """The latest complete partition strictly before ``date`` (its manifest says ok)."""
    earlier = []
    for path in _children(output):
        name = os.path.basename(path)
        if not name.startswith(PARTITION_PREFIX) or _UNPUBLISHED.search(name):
            continue
        night = name[len(PARTITION_PREFIX):]
        if _DATE.match(night) and night < date and _is_complete(path):
            earlier.append((night, path))
    return max(earlier)[1] if earlier else None


def _is_complete(path: str) -> bool:
    manifest = FileSystems.join(path, features.MANIFEST_FILE)
    if not FileSystems.exists(manifest):
        return False
    try:
        return outputs.read_json(manifest).get('status') == 'ok'
    except ValueError:
        return False


def _is_export(path: str) -> bool:
    return FileSystems.exists(FileSystems.join(path, features.SAVED_MODEL_FILE))


def resolve_model(model: str) -> str:
    """One export -> itself; a folder of versioned exports -> the newest complete one.

    Complete means published by ``imdb-sentiment train``: a saved_model.pb that parses,
    its variables, and a manifest with status ok, in a folder that is not a staging
    leftover. Newest is the manifest's ``created`` time, then the folder name.
    """
    from transforms.inference import export_problem
    if _is_export(model):
        return model
    versions = []
    for path in _children(model):
        if _UNPUBLISHED.search(os.path.basename(path)) or not _is_export(path):
            continue
        problem = export_problem(path)
        if problem:
            _LOG.warning('Skipping model version %s: %s', path, problem)
            continue
        manifest = FileSystems.join(path, features.MANIFEST_FILE)
        if not FileSystems.exists(manifest):
            continue
        found = outputs.read_json(manifest)
        if found.get('status') == 'ok':
            versions.append((found.get('created') or '', os.path.basename(path), path))
    if not versions:
        raise ModelError(f'--model {model}: no saved_model.pb, and no complete exports in '
                         'its subfolders; is it the output of `imdb-sentiment train`?')
    return max(versions)[2]
