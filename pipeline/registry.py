"""The model registry: integer version folders, and a champion record a scheduler can trust.

A registry folder holds one export of ``imdb-sentiment train`` per version (``1/``, ``2/``,
...), so TensorFlow Serving can serve it as it is, plus:

- ``champion.json``: the version the nightly score uses, when and by whom it was promoted,
  why, the verdict that blessed it, and the champions before it (``history``). It is
  replaced atomically (a temporary file renamed over it), under the registry's lock.
- ``blessings/<version>.json``: the model gate's verdict on a version (``imdb-sentiment
  evaluate``).

Versions are never rewritten once published, so a promote or a rollback while a nightly run
is reading a model can only change which whole version the next run picks.
"""

import datetime
import getpass
import json
import logging
import os
import re
import uuid
from typing import Dict, List, Optional

from pipeline.runtime.guard import OutputLock
from transforms import jsonio, schema
from transforms.errors import ModelError

_LOG = logging.getLogger(__name__)
CHAMPION_FILE = 'champion.json'
VERDICTS_DIR = 'blessings'   # the gate's verdicts, one per version
_VERSION = re.compile(r'[1-9][0-9]{0,8}')


_ENTRY = re.compile(r'[1-9][0-9]{0,8}(\..+)?')   # a version, or what its writing leaves


def is_registry(path: str) -> bool:
    """A folder holding a champion record, verdicts, or version folders (published, or the
    staging and lock files of one being written)."""
    if '://' in path or not os.path.isdir(path):
        return False
    names = os.listdir(path)
    return CHAMPION_FILE in names or VERDICTS_DIR in names or any(
        _ENTRY.fullmatch(n) for n in names)


def versions(path: str) -> List[int]:
    """The published versions (integer folders holding a saved_model.pb), in order."""
    if not os.path.isdir(path):
        return []
    return sorted(int(n) for n in os.listdir(path)
                  if _VERSION.fullmatch(n) and os.path.isfile(
                      os.path.join(path, n, schema.SAVED_MODEL_FILE)))


def next_version(path: str) -> int:
    """One above every version, published or being written (staging names count too)."""
    taken = [0]
    if os.path.isdir(path):
        taken += [int(n.split('.')[0]) for n in os.listdir(path) if _ENTRY.fullmatch(n)]
    return max(taken) + 1


def version_path(path: str, version: int) -> str:
    return os.path.join(path, str(version))


def champion(path: str) -> Optional[Dict]:
    """The champion record, or None when none was promoted. A record that cannot be read, or
    names no version, is an error (exit 2): the nightly run must not guess."""
    file = os.path.join(path, CHAMPION_FILE)
    if not os.path.lexists(file):
        return None
    found = jsonio.read_json_object(file)
    if found is None or not isinstance(found.get('version'), int):
        raise ModelError(f'{file} is not a champion record (a JSON object naming a version); '
                         f'promote a version again with `imdb-sentiment models promote`')
    return found


def verdict(path: str, version: int) -> Optional[Dict]:
    """The gate's verdict on ``version``, or None when it was never judged."""
    return jsonio.read_json_object(os.path.join(path, VERDICTS_DIR, f'{version}.json'))


def describe_version(path: str, version: int) -> Dict:
    """When a version was trained, and what the gate said of it."""
    manifest = jsonio.read_json_object(
        os.path.join(version_path(path, version), schema.MANIFEST_FILE)) or {}
    found = verdict(path, version)
    return {'version': version, 'created': manifest.get('created'),
            'verdict': 'not evaluated' if found is None else
            'blessed' if found.get('blessed') else 'not blessed'}


def _write_atomically(target: str, data: Dict) -> None:
    temporary = f'{target}.tmp-{uuid.uuid4().hex[:8]}'
    with open(temporary, 'w', encoding='utf-8') as f:
        json.dump(data, f, indent=2, sort_keys=True, default=str)
        f.write('\n')
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, target)


def record_verdict(path: str, version: int, found: Dict) -> None:
    """Keeps the gate's verdict on ``version`` (replacing an earlier one)."""
    os.makedirs(os.path.join(path, VERDICTS_DIR), exist_ok=True)
    _write_atomically(os.path.join(path, VERDICTS_DIR, f'{version}.json'), found)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return 'unknown'


def promote(path: str, version: int, reason: str, force: bool = False) -> Dict:
    """Makes ``version`` the champion; returns the new record. Refuses (ModelError, exit 2)
    a version that is not published or, unless ``force``, not blessed."""
    if version not in versions(path):
        raise ModelError(f'{path}: no version {version} (versions: '
                         f'{", ".join(map(str, versions(path))) or "none"})')
    found = verdict(path, version)
    if not force and not (found and found.get('blessed')):
        raise ModelError(f'{path}: version {version} is not blessed '
                         f'({"the gate refused it" if found else "never evaluated"}); '
                         f'evaluate it, or promote with --force and a --reason')
    with OutputLock(os.path.join(path, 'champion')):
        current = champion(path)
        history = list((current or {}).get('history', []))
        if current:
            history.append({k: current.get(k) for k in ('version', 'promoted', 'by', 'reason')})
        record = {'version': version, 'path': str(version), 'promoted': _now(), 'by': _who(),
                  'reason': reason, 'forced': bool(force and not (found or {}).get('blessed')),
                  'evaluation': found, 'previous': current.get('version') if current else None,
                  'history': history}
        _write_atomically(os.path.join(path, CHAMPION_FILE), record)
    _LOG.info('Version %d of %s is the champion (was %s)', version, path,
              record['previous'] or 'none')
    return record


def rollback(path: str, reason: str) -> Dict:
    """The champion before the current one becomes the champion again."""
    with OutputLock(os.path.join(path, 'champion')):
        current = champion(path)
        if not current or not current.get('history'):
            raise ModelError(f'{path}: no earlier champion to roll back to')
        history = list(current['history'])
        back = history.pop()
        record = {'version': back['version'], 'path': str(back['version']), 'promoted': _now(),
                  'by': _who(), 'reason': reason or f'rollback from version {current["version"]}',
                  'forced': False, 'evaluation': verdict(path, back['version']),
                  'previous': current['version'], 'rolled_back_from': current['version'],
                  'history': history}
        _write_atomically(os.path.join(path, CHAMPION_FILE), record)
    return record
