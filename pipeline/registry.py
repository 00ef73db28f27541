"""The model registry: integer version folders, and a champion record a scheduler can trust.

A registry folder holds one export of ``imdb-sentiment train`` per version (``1/``, ``2/``,
...), so TensorFlow Serving can serve it as it is, plus:

- ``champion.json``: the version the nightly score uses and its content (the SHA-256 of its
  manifest), when and by whom it was promoted, why, the verdict that blessed it, and the
  champions before it (``history``). It is replaced atomically, under the registry's lock;
  one that cannot be read is an error that ``promote --force`` repairs.
- ``blessings/<version>.json``: the model gate's verdict on a version's content
  (``imdb-sentiment evaluate``).

A version is created once, numbered when it is published (``pipeline.new_version``), and
never written again; promote and rollback check it against its manifest first. So a promote
or a rollback while a nightly run is reading a model can only change which whole version the
next run picks.

A registry may be on an object store (``gs://``). There a version is published when its
``manifest.json`` is (it is copied last), ``champion.json`` is changed by compare-and-swap on
its generation (read, build the new record, replace it only if no other writer changed it
meanwhile, else start again from a fresh read), and a verdict is one object, written whole.
"""

import getpass
import logging
import os
import re
from typing import Callable, Dict, List, Optional, Tuple

from pipeline.runtime import object_store
from pipeline.runtime.guard import OutputLock
from pipeline.runtime.publish import replace_json
from transforms import jsonio, schema
from transforms.errors import ModelError, OutputError

_LOG = logging.getLogger(__name__)
CHAMPION_FILE = 'champion.json'
VERDICTS_DIR = 'blessings'   # the gate's verdicts, one per version
SHA256_KEY = 'sha256'        # a version's content: the SHA-256 of its manifest.json
VERSION_NAME = re.compile(r'[1-9][0-9]{0,8}')
NEW_PREFIX = 'new-'          # a version being written, before it has a number
WRITER_KEY = r'([1-9][0-9]{0,8}|new-[0-9a-f]{8})'    # what a writer's lock is named after
_ENTRY = re.compile(WRITER_KEY + r'(\..+)?')          # a version, or what writing one leaves
_RECORD_KEYS = ('version', SHA256_KEY, 'promoted', 'by', 'reason')  # kept in the history
_SWAP_TRIES = 20             # compare-and-swap attempts on an object store's champion record


def _listing(path: str) -> Optional[List[str]]:
    """What the registry folder holds: on a disk, its entries; on an object store, every
    object's name relative to it (one listing). None when there is no such folder."""
    if object_store.is_local(path):
        return os.listdir(path) if os.path.isdir(path) else None
    if object_store.is_bucket(path):
        return None
    root = path.rstrip('/') + '/'
    found = [p[len(root):] for p in object_store.list_objects(path)]
    return found or None


def entries(path: str) -> List[str]:
    """The names directly inside the registry folder (empty when there is none)."""
    return sorted({rel.split('/')[0] for rel in _listing(path) or []})


def is_registry(path: str) -> bool:
    """A folder holding a champion record, verdicts, or version folders (published, or the
    staging and lock files of one being written)."""
    names = entries(path)
    return CHAMPION_FILE in names or VERDICTS_DIR in names or any(
        _ENTRY.fullmatch(n) for n in names)


def versions(path: str) -> List[int]:
    """The published versions (integer folders holding a saved_model.pb; on an object store,
    also the manifest.json that publishing copies last), in order."""
    if object_store.is_local(path):
        return sorted(int(n) for n in entries(path) if VERSION_NAME.fullmatch(n) and
                      os.path.isfile(os.path.join(path, n, schema.SAVED_MODEL_FILE)))
    listed = set(_listing(path) or [])
    return sorted(int(n) for n in {rel.split('/')[0] for rel in listed}
                  if VERSION_NAME.fullmatch(n) and f'{n}/{schema.SAVED_MODEL_FILE}' in listed
                  and f'{n}/{schema.MANIFEST_FILE}' in listed)


def next_version(path: str) -> int:
    """One above every version, published or being written (staging names count too): the
    number the next publish will most likely get (it is only taken when publishing)."""
    return max([0] + [int(n.split('.')[0]) for n in entries(path)
                      if _ENTRY.fullmatch(n) and not n.startswith(NEW_PREFIX)]) + 1


def version_path(path: str, version: int) -> str:
    return os.path.join(path, str(version))


def check_writable(path: str, flag: str = '--models') -> None:
    """An OutputError (exit 2), before any work, when the registry is a file, or it (or its
    verdicts folder) cannot be written. An object store's permissions show only when
    written."""
    if not object_store.is_local(path):
        return
    if os.path.lexists(path) and not os.path.isdir(path):
        raise OutputError(f'{flag} {path}: a file, not a model registry (a folder); '
                          f'nothing was done')
    for folder in (path, os.path.join(path, VERDICTS_DIR)):
        if os.path.isdir(folder) and not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError(f'{flag} {path}: cannot write in {folder} (permission denied); '
                              f'nothing was done')


# --- Content and verification ------------------------------------------------------------

def content_sha256(path: str, version: int) -> Optional[str]:
    """The SHA-256 of the version's manifest.json (which lists every file's own hash), or
    None when it cannot be read."""
    from transforms.beam.inference import model_sha256  # TF protos: lazily
    return model_sha256(version_path(path, version))


def verified(path: str, version: int) -> str:
    """The version's content hash once it is checked against its manifest (every file
    listed, with its size and SHA-256); a ModelError (exit 2) otherwise."""
    from transforms.beam.inference import export_problem, verify_export  # TF protos: lazily
    folder = version_path(path, version)
    if not VERSION_NAME.fullmatch(str(version)) or not (
            os.path.isdir(folder) if object_store.is_local(path) else version in versions(path)):
        raise ModelError(f'{path}: no version {version} (versions: '
                         f'{", ".join(map(str, versions(path))) or "none"})')
    problem = export_problem(folder) or verify_export(folder)
    sha = content_sha256(path, version)
    if problem or sha is None:
        raise ModelError(f'{path}: version {version} does not verify '
                         f'({problem or "its manifest cannot be read"})')
    return sha


# --- Verdicts ----------------------------------------------------------------------------

def verdict(path: str, version: int) -> Optional[Dict]:
    """The gate's verdict on ``version``, or None when it was never judged."""
    return jsonio.read_json_object(os.path.join(path, VERDICTS_DIR, f'{version}.json'))


def blessing_problem(path: str, version: int, found: Optional[Dict], sha: str) -> Optional[str]:
    """Why the verdict ``found`` does not bless the version whose content is ``sha``, or None."""
    if not found:
        return 'never evaluated'
    if found.get(SHA256_KEY) != sha:
        return (f'its verdict in {VERDICTS_DIR}/{version}.json was for other content (SHA-256 '
                f'{str(found.get(SHA256_KEY))[:12]}; the version is {sha[:12]} now)')
    return None if found.get('blessed') else 'the gate refused it'


def describe_version(path: str, version: int) -> Dict:
    """When a version was trained, and what the gate said of its content."""
    manifest = jsonio.read_json_object(
        os.path.join(version_path(path, version), schema.MANIFEST_FILE)) or {}
    found = verdict(path, version)
    stale = found is not None and found.get(SHA256_KEY) != content_sha256(path, version)
    return {'version': version, 'created': manifest.get('created'),
            'verdict': 'not evaluated' if found is None else 'stale verdict' if stale else
            'blessed' if found.get('blessed') else 'not blessed'}


def record_verdict(path: str, version: int, found: Dict) -> None:
    """Keeps the gate's verdict on ``version``'s content (replacing an earlier one). The
    content is the candidate's hash as the gate saw it, or the version's now."""
    sha = ((found.get('candidate') or {}).get(SHA256_KEY) if isinstance(
        found.get('candidate'), dict) else None) or content_sha256(path, version)
    folder = os.path.join(path, VERDICTS_DIR)
    record = dict(found, **{SHA256_KEY: sha})
    try:
        if not object_store.is_local(path):
            jsonio.write_json(f'{folder}/{version}.json', record)   # one object, whole
            return
        os.makedirs(folder, exist_ok=True)
        replace_json(os.path.join(folder, f'{version}.json'), record)
    except OSError as e:
        raise OutputError(f'cannot record the verdict on version {version} in {folder}: '
                          f'{e.strerror or e}') from None


# --- The champion ------------------------------------------------------------------------

def _repair(path: str) -> str:
    return (f'repair it with `imdb-sentiment models promote {path} VERSION --force --reason '
            f'"..."`, which replaces it')


def _entry_problem(entry, where: str) -> Optional[str]:
    if not isinstance(entry, dict):
        return f'{where} is not an object'
    version = entry.get('version')
    if type(version) is not int or not VERSION_NAME.fullmatch(str(version)):
        return f'{where} names no version (an integer): {str(version)[:40]!r}'
    return None


def _checked_record(raw: Optional[bytes]) -> Tuple[Optional[Dict], Optional[str]]:
    """(the record, None), (None, None) when there is none, or (None, what is wrong)."""
    if raw is None:
        return None, None
    found = jsonio.parse_json_object(raw)
    if found is None:
        return None, 'not a JSON object'
    problem = _entry_problem(found, 'the record')
    history = found.get('history', [])
    if problem is None and not isinstance(history, list):
        problem = 'its history is not a list'
    for i, entry in enumerate(history if problem is None else []):
        problem = problem or _entry_problem(entry, f'history entry {i + 1}')
    return (None, problem) if problem else (found, None)


def _read_record(path: str) -> Tuple[Optional[bytes], Optional[int]]:
    """The champion record's bytes and, on an object store, their generation; (None, None)
    when there is none. On a disk, a record that cannot be read reads as empty bytes."""
    file = os.path.join(path, CHAMPION_FILE)
    if not object_store.is_local(path):
        found = object_store.read_versioned(file)
        return found if found is not None else (None, None)
    if not os.path.lexists(file):
        return None, None
    try:
        with open(file, 'rb') as f:
            return f.read(), None
    except OSError:
        return b'', None


def champion(path: str) -> Optional[Dict]:
    """The champion record, or None when none was promoted. A record that cannot be read,
    names no version, or has a malformed history is an error (exit 2): the nightly run must
    not guess."""
    found, problem = _checked_record(_read_record(path)[0])
    if problem:
        raise ModelError(f'{os.path.join(path, CHAMPION_FILE)} is not a valid champion record '
                         f'({problem}); {_repair(path)}')
    return found


def _salvaged_history(path: str, raw: bytes) -> List[Dict]:
    """What an unreadable record's history still says: its well-formed entries, and the
    record's own version last."""
    found = jsonio.parse_json_object(raw) or {}
    history = found.get('history') if isinstance(found.get('history'), list) else []
    kept = [{k: e.get(k) for k in _RECORD_KEYS} for e in [*history, found]
            if _entry_problem(e, '') is None]
    _LOG.warning('%s was not a valid champion record: replaced, keeping %d entr%s of its '
                 'history', os.path.join(path, CHAMPION_FILE), len(kept),
                 'y' if len(kept) == 1 else 'ies')
    return kept


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return 'unknown'


def _change_champion(path: str, change: Callable[[Optional[bytes]], Dict]) -> Dict:
    """Replaces the champion record with ``change(the current record's bytes)``; returns the
    new record. On a disk, under the champion's lock. On an object store, by compare-and-swap:
    the record is replaced only if it is still the generation read, else it is read again and
    ``change`` runs again on what another writer put there. A registry that cannot be written
    is one line (exit 2)."""
    file = os.path.join(path, CHAMPION_FILE)
    try:
        if object_store.is_local(path):
            with OutputLock(os.path.join(path, 'champion')):
                record = change(_read_record(path)[0])
                replace_json(file, record)
                return record
        for _ in range(_SWAP_TRIES):
            raw, generation = _read_record(path)
            record = change(raw)
            data = jsonio.json_bytes(record)
            if (object_store.create_new(file, data) if generation is None else
                    object_store.replace_if(file, data, generation)) is not None:
                return record
            _LOG.info('%s changed while it was being replaced: reading it again', file)
    except OSError as e:
        raise OutputError(f'{path}: cannot write the champion record: {e.strerror or e} '
                          f'(nothing was changed)') from None
    raise OutputError(f'{file} changed under each of {_SWAP_TRIES} tries to replace it (other '
                      f'writers); nothing was changed: try again')


def promote(path: str, version: int, reason: str, force: bool = False) -> Dict:
    """Makes ``version`` the champion; returns the new record. Refuses (ModelError, exit 2) a
    version that does not verify against its manifest or, unless ``force``, whose content the
    gate did not bless. Replaces a champion record that cannot be read (saying so), keeping
    what history it can."""
    sha = verified(path, version)
    found = verdict(path, version)
    refused = blessing_problem(path, version, found, sha)
    if refused and not force:
        raise ModelError(f'{path}: version {version} is not blessed ({refused}); '
                         f'evaluate it, or promote with --force and a --reason')

    def change(raw: Optional[bytes]) -> Dict:
        current, problem = _checked_record(raw)
        history = list((current or {}).get('history', [])) if not problem else \
            _salvaged_history(path, raw)
        if current:
            history.append({k: current.get(k) for k in _RECORD_KEYS})
        record = {'version': version, SHA256_KEY: sha, 'path': str(version),
                  'promoted': jsonio.utc_now(), 'by': _who(), 'reason': reason,
                  'forced': bool(refused), 'evaluation': None if refused else found,
                  'previous': (current or (history[-1] if history else {})).get('version'),
                  'history': history}
        if problem:
            record['repaired'] = problem
        return record

    record = _change_champion(path, change)
    _LOG.info('Version %d of %s is the champion (was %s)', version, path,
              record['previous'] or 'none')
    return record


def rollback(path: str, reason: str) -> Dict:
    """The champion before the current one becomes the champion again, once its version is
    checked: it must exist, verify, and hold the content it held then."""
    def change(raw: Optional[bytes]) -> Dict:
        current, problem = _checked_record(raw)
        if problem:
            raise ModelError(f'{os.path.join(path, CHAMPION_FILE)} is not a valid champion '
                             f'record ({problem}); {_repair(path)}')
        if not current or not current.get('history'):
            raise ModelError(f'{path}: no earlier champion to roll back to')
        history = list(current['history'])
        back = history.pop()
        try:
            sha = verified(path, back['version'])
        except ModelError as e:
            raise ModelError(f'cannot roll back to version {back["version"]}: {e}; promote '
                             f'another version with `imdb-sentiment models promote {path} '
                             f'VERSION --force --reason "..."`') from None
        if back.get(SHA256_KEY) not in (None, sha):
            raise ModelError(f'{path}: version {back["version"]} holds other content than '
                             f'when it was champion (SHA-256 {sha[:12]}, was '
                             f'{str(back[SHA256_KEY])[:12]}); promote a version by hand')
        found = verdict(path, back['version'])
        record = {'version': back['version'], SHA256_KEY: sha, 'path': str(back['version']),
                  'promoted': jsonio.utc_now(), 'by': _who(),
                  'reason': reason or f'rollback from version {current["version"]}',
                  'forced': False, 'evaluation': found if found and found.get(
                      SHA256_KEY) == sha else None,
                  'previous': current['version'], 'rolled_back_from': current['version'],
                  'history': history}
        return record

    return _change_champion(path, change)
