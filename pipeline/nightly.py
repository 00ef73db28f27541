"""The nightly side of scoring: dates, date partitions, backfills, and the history of the nights.

A nightly run writes ``OUTPUT/dt=YYYY-MM-DD/``; rerunning a date replaces that partition
atomically (``pipeline.runtime.publish.StagedOutput``). ``backfill`` runs a range of dates,
each its own partition. After every night ``write_history`` rebuilds ``OUTPUT/history.json``
and ``OUTPUT/index.html`` from the partitions' manifests (never from their predictions).
Which model a night uses is ``pipeline.model_lookup``'s.
"""

import datetime
import logging
import os
import re
from typing import Callable, Dict, List, Optional

from apache_beam.io.filesystems import FileSystems

from pipeline.runtime.console import SIGNALS
from transforms import jsonio
from transforms import schema
from transforms.errors import (EXIT_FAILURE, EXIT_LOCKED, EXIT_NO_INPUT, EXIT_OK, EXIT_REJECTS,
                               EXIT_SIGNAL_BASE, EXIT_USAGE, InputError)

_LOG = logging.getLogger(__name__)
DATE_FIELD = '{date}'    # in --input, the night's date
PARTITION_PREFIX = 'dt='
_DATE = re.compile(r'^\d{4}-\d{2}-\d{2}$')
# Folders a staged write leaves behind while it runs or after it was interrupted.
UNPUBLISHED = re.compile(r'\.(partial|old|trash)-[0-9a-f]{8}$|\.failed-')


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


def date_range(text: str) -> List[str]:
    """'2026-11-01..2026-11-07' -> every ISO date from the first to the last, in order."""
    first, sep, last = text.partition('..')
    if not sep:
        raise InputError(f'--dates {text}: expected FIRST..LAST, e.g. 2026-11-01..2026-11-07')
    start, end = (datetime.date.fromisoformat(parse_date(d.strip())) for d in (first, last))
    if end < start:
        raise InputError(f'--dates {text}: the last date comes before the first')
    if (end - start).days > 3660:
        raise InputError(f'--dates {text}: more than ten years of nights')
    return [(start + datetime.timedelta(days=i)).isoformat()
            for i in range((end - start).days + 1)]


def dated_inputs(inputs: List[str], date: str) -> List[str]:
    """--input with every '{date}' replaced by the night's date."""
    return [path.replace(DATE_FIELD, date) for path in inputs]


def partition_path(output: str, date: str) -> str:
    return FileSystems.join(output.rstrip('/'), f'{PARTITION_PREFIX}{date}')


def children(folder: str) -> List[str]:
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
    for path in children(output):
        name = os.path.basename(path)
        if not name.startswith(PARTITION_PREFIX) or UNPUBLISHED.search(name):
            continue
        night = name[len(PARTITION_PREFIX):]
        if _DATE.match(night) and night < date and _is_complete(path):
            earlier.append((night, path))
    return max(earlier)[1] if earlier else None


def _is_complete(path: str) -> bool:
    manifest = FileSystems.join(path, schema.MANIFEST_FILE)
    if not FileSystems.exists(manifest):
        return False
    try:
        return jsonio.read_json(manifest).get('status') == 'ok'
    except ValueError:
        return False


def partition_dates(root: str) -> List[str]:
    """The dates of the partitions published under a local nightly root, in order."""
    if not os.path.isdir(root):
        return []
    return sorted(n[len(PARTITION_PREFIX):] for n in os.listdir(root)
                  if n.startswith(PARTITION_PREFIX) and _DATE.match(n[len(PARTITION_PREFIX):])
                  and os.path.isdir(os.path.join(root, n)))


def scored_with(partition: str) -> Optional[Dict]:
    """The model a complete partition was scored with (its manifest's model block)."""
    if not _is_complete(partition):
        return None
    return jsonio.read_json(FileSystems.join(partition, schema.MANIFEST_FILE)).get('model')


# The exit codes a backfill may end with, least bad first (any other counts as a failure);
# a signal stops it at once.
_SEVERITY = {code: rank for rank, code in enumerate(
    (EXIT_OK, EXIT_NO_INPUT, EXIT_REJECTS, EXIT_LOCKED, EXIT_USAGE, EXIT_FAILURE))}
_SIGNALLED = {EXIT_SIGNAL_BASE + signum for signum in SIGNALS}


def worst(codes: List[int]) -> int:
    return max(codes, key=lambda c: _SEVERITY.get(c, _SEVERITY[EXIT_FAILURE]), default=EXIT_OK)


def backfill(dates: List[str], root: str, same_model: Callable[[Optional[Dict]], bool],
             run_date: Callable[[str], int], force: bool = False) -> int:
    """Runs ``run_date`` for each date in order (each its own partition), skipping a date
    already complete with the same model unless ``force``, going on past a failing date.
    Logs one line per date and returns the worst exit code (a signal's at once)."""
    outcomes = []
    for date in dates:
        if not force and same_model(scored_with(partition_path(root, date))):
            outcomes.append((date, EXIT_OK, 'skipped: already scored with this model'))
            continue
        code = run_date(date)
        if code in _SIGNALLED:
            outcomes.append((date, code, 'interrupted: the later dates did not run'))
            break
        outcomes.append((date, code, _OUTCOMES.get(code, 'failed')))
    for date, code, what in outcomes:
        _LOG.info('%s: exit %d, %s', date, code, what)
    return worst([code for _, code, _ in outcomes])


_OUTCOMES = {EXIT_OK: 'scored', EXIT_USAGE: 'usage error: fix the command or the paths',
             EXIT_REJECTS: 'the data failed it: the night is kept as it was, see dt=D.failed-*',
             EXIT_NO_INPUT: 'no input for this date: nothing written',
             EXIT_LOCKED: 'another run held the date', EXIT_FAILURE: 'failed: see the log'}
