"""The nightly side of scoring: dates, date partitions, and the night before.

A nightly run writes ``OUTPUT/dt=YYYY-MM-DD/``; rerunning a date replaces that
partition atomically (``pipeline.runtime.publish.StagedOutput``). Which model a night
uses is ``pipeline.models``'.
"""

import datetime
import logging
import os
import re
from typing import List, Optional

from apache_beam.io.filesystems import FileSystems

from transforms import jsonio
from transforms import schema
from transforms.errors import InputError

_LOG = logging.getLogger(__name__)
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
