"""The nightly side of scoring: dates, date partitions and which nights a night compares with.

A nightly run writes ``OUTPUT/dt=YYYY-MM-DD/``; rerunning a date replaces that partition
atomically (``pipeline.runtime.publish.StagedOutput``). A night's drift compares with the
latest readable night before it (``previous_night``), a damaged one skipped and named.
``pipeline.backfill`` runs a range of dates, each its own partition. After every night
``pipeline.history`` rebuilds ``OUTPUT/history.json`` and ``OUTPUT/index.html`` from the
partitions' manifests (never from their predictions).
Which model a night uses is ``pipeline.model_lookup``'s.
"""

import datetime
import logging
import os
import re
from typing import Dict, List, NamedTuple, Optional, Tuple

from apache_beam.io.filesystems import FileSystems

from analysis import drift
from transforms import jsonio
from transforms import schema
from transforms.errors import InputError

_LOG = logging.getLogger(__name__)
DATE_FIELD = '{date}'    # in --input, the night's date
PARTITION_PREFIX = 'dt='
_DATE = re.compile(r'^\d{4}-\d{2}-\d{2}$')
# Folders a staged write leaves behind while it runs or after it was interrupted.
UNPUBLISHED = re.compile(r'\.(partial|old|trash)-[0-9a-f]{8}$|\.failed-')


def today_utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()


def parse_date(text: str, flag: str = '--date') -> str:
    """``YYYY-MM-DD`` or ``today`` (UTC) -> the ISO date; InputError (naming ``flag``) otherwise."""
    if text == 'today':
        return today_utc()
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        raise InputError(f'{flag} {text}: expected YYYY-MM-DD (or today)') from None


def date_range(text: str) -> List[str]:
    """'2026-11-01..2026-11-07' -> every ISO date from the first to the last, in order."""
    first, sep, last = text.partition('..')
    if not sep:
        raise InputError(f'--dates {text}: expected FIRST..LAST, e.g. 2026-11-01..2026-11-07')
    try:
        start, end = (datetime.date.fromisoformat(parse_date(d.strip(), '--dates'))
                      for d in (first, last))
    except InputError:
        raise InputError(f'--dates {text}: expected FIRST..LAST, each YYYY-MM-DD (or today), '
                         f'e.g. 2026-11-01..2026-11-07') from None
    if end < start:
        raise InputError(f'--dates {text}: the last date comes before the first')
    if (end - start).days > 3660:
        raise InputError(f'--dates {text}: more than ten years of nights')
    return [(start + datetime.timedelta(days=i)).isoformat()
            for i in range((end - start).days + 1)]


def dated_output(output: str, date: Optional[str]) -> str:
    """--output with '{date}' replaced by the night's date; InputError without a date (a
    folder literally named '{date}' is never what was meant)."""
    if DATE_FIELD not in output:
        return output
    if date is None:
        raise InputError(f'--output {output} holds {DATE_FIELD}, which only a dated run fills '
                         f'in: give --date or --dates (or leave {DATE_FIELD} out)')
    return output.replace(DATE_FIELD, date)


def dated_inputs(inputs: List[str], date: str) -> List[str]:
    """--input with every '{date}' replaced by the night's date."""
    return [path.replace(DATE_FIELD, date) for path in inputs]


def partition_path(output: str, date: str) -> str:
    return FileSystems.join(output.rstrip('/'), f'{PARTITION_PREFIX}{date}')


def children(folder: str) -> List[str]:
    """The immediate subfolders of ``folder`` (local or on an object store).

    On an object store a subfolder is the first name of every object deeper than
    ``folder/``: one listing of the prefix (the store lists every object under it whatever
    the pattern), so a partition holding only a subfolder (its manifest gone) is found too."""
    folder = folder.rstrip('/')
    if '://' not in folder:
        if not os.path.isdir(folder):
            return []
        return sorted(os.path.join(folder, n) for n in os.listdir(folder)
                      if os.path.isdir(os.path.join(folder, n)))
    found = set()
    for m in FileSystems.match([folder + '/**'])[0].metadata_list:
        rest = m.path[len(folder) + 1:]
        if '/' in rest:
            found.add(f'{folder}/{rest.split("/", 1)[0]}')
    return sorted(found)


def _published(root: str) -> List[Tuple[str, str]]:
    """(date, path) of every published partition under ``root`` (local or an object store),
    in date order: staging leftovers and failed runs are not nights."""
    found = []
    for path in children(root):
        name = os.path.basename(path)
        night = name[len(PARTITION_PREFIX):]
        if name.startswith(PARTITION_PREFIX) and _DATE.match(night) and \
                not UNPUBLISHED.search(name):
            found.append((night, path))
    return sorted(found)


def read_object(path: str) -> Tuple[Optional[Dict], Optional[str]]:
    """(the JSON object of the file ``path``, None), or (None, why not): missing, not
    JSON, or not a JSON object; local or on an object store.

    An object deleted while it is read (on an object store, a rerun of that night deletes
    its manifest first) is missing; any other error of the store is raised: a store that
    cannot be read is no damaged night."""
    name = path.rstrip('/').rsplit('/', 1)[-1]
    if not FileSystems.exists(path):
        return None, f'no {name}'
    try:
        found = jsonio.read_json(path)
    except (ValueError, OSError) as e:
        return None, f'{name} is not JSON ({e})'
    except Exception:
        if not FileSystems.exists(path):
            return None, f'no {name}'
        raise
    if not isinstance(found, dict):
        return None, f'{name} is not a JSON object'
    return found, None


def read_manifest(partition: str) -> Tuple[Optional[Dict], Optional[str]]:
    """(the partition's manifest, None), or (None, why it is damaged): missing, not a JSON
    object, or not saying ok."""
    manifest, problem = read_object(FileSystems.join(partition, schema.MANIFEST_FILE))
    if problem:
        return None, problem
    if manifest.get('status') != 'ok':
        return None, f'{schema.MANIFEST_FILE} does not say ok'
    return manifest, None


def _comparable(partition: str) -> Tuple[Optional[Dict], Optional[str]]:
    """(its manifest, None) for a night drift can compare with, or (None, why not): its
    manifest (``read_manifest``) and a metrics.json whose score distribution reads."""
    manifest, problem = read_manifest(partition)
    if problem:
        return None, problem
    path = FileSystems.join(partition, schema.METRICS_FILE)
    if not FileSystems.exists(path):
        return None, f'no {schema.METRICS_FILE}'
    try:
        drift.score_distribution(jsonio.read_json(path))
    except (ValueError, OSError, KeyError, TypeError, AttributeError) as e:
        return None, f'{schema.METRICS_FILE} is damaged ({type(e).__name__}: {e})'
    return manifest, None


class Previous(NamedTuple):
    """The night a night's drift compares with: the latest readable one before it (None:
    none), its manifest's ``created`` (which run of that date), and the later nights that
    were skipped as damaged, newest first, as (date, why)."""
    path: Optional[str]
    date: Optional[str]
    created: Optional[str]
    skipped: List[Tuple[str, str]]


def previous_night(root: str, date: str) -> Previous:
    """The latest night before ``date`` among the published partitions of ``root`` (whoever
    published them) that drift can compare with; a damaged one is skipped and named, so one
    damaged night never blocks the nights after it."""
    skipped = []
    for night, path in reversed(_published(root)):
        if night >= date:
            continue
        manifest, problem = _comparable(path)
        if problem:
            _LOG.warning('Night %s is damaged (%s): drift skips it', night, problem)
            skipped.append((night, problem))
            continue
        return Previous(path, night, manifest.get('created'), skipped)
    return Previous(None, None, None, skipped)


def stale_drift(root: str, date: str, manifest: Dict) -> Optional[str]:
    """Why the published night ``date`` (its ``manifest``) no longer compares with the night
    before it (another process published or rescored a night in between), or None."""
    before = previous_night(root, date)
    found = manifest.get('drift') if isinstance(manifest.get('drift'), dict) else {}
    if found.get('previous_date') != before.date:
        return f'its drift compared with {found.get("previous_date") or "no night"}, the ' \
               f'night before is now {before.date or "none"}'
    # A drift written before it named which run of that night it read compares dates alone.
    if 'previous_created' in found and found['previous_created'] != before.created:
        return f'the night before, {before.date}, was scored again'
    return None


def partition_dates(root: str) -> List[str]:
    """The dates of the partitions published under a nightly root, in order."""
    return [night for night, _ in _published(root)]


def failed_runs(root: str) -> List[Tuple[str, str]]:
    """(date, folder name) of every failed night kept under ``root`` (``dt=D.failed-*``,
    see pipeline.runtime.publish; local or on an object store), in order."""
    found = []
    for path in children(root):
        name = os.path.basename(path)
        night = name[len(PARTITION_PREFIX):].split('.', 1)[0]
        if name.startswith(PARTITION_PREFIX) and _DATE.match(night) and '.failed-' in name:
            found.append((night, name))
    return sorted(found)


def scored_with(partition: str) -> Optional[Dict]:
    """A complete partition's manifest (its ``model`` block names the model it was scored
    with), or None for a missing or damaged one."""
    manifest, _ = read_manifest(partition)
    return manifest if manifest and isinstance(manifest.get('model'), dict) else None
