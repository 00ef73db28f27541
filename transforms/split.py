"""Deterministic train/eval split by a hash of a split key.

The key is the review's group (e.g. its movie) when a grouping is given and
knows the review's id, else its normalized text. Reviews of one group, and
identical reviews (after normalization), hash alike, so they never land on both
sides; the split does not depend on the runner, the worker or the order.
"""

import csv
import hashlib
import re
from typing import Dict, Iterator, List, Optional, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from transforms import features

_TAG = re.compile(r'<[^>]*>')
_SPACE = re.compile(r'\s+')

# The two layouts a grouping file may have (header columns).
GROUPS_BY_ID = (features.ID_KEY, features.GROUP_KEY)
GROUPS_BY_ROW = (features.ROW_KEY, features.MOVIE_KEY)
# Groups hash in their own namespace, so a group can never collide with a review text.
_GROUP_PREFIX = 'group\x00'


def normalized_text(review: str) -> str:
    """Lowercase, HTML tags dropped, whitespace collapsed: the duplicate key."""
    return _SPACE.sub(' ', _TAG.sub(' ', review.lower())).strip()


def hash_point(key: str) -> float:
    """A stable number in [0, 1) from a string."""
    digest = hashlib.sha256(key.encode('utf-8')).digest()
    return int.from_bytes(digest[:8], 'big') / float(1 << 64)


def split_point(review: str, group: Optional[str] = None) -> float:
    """A stable number in [0, 1) from the group when known, else the normalized text."""
    if group:
        return hash_point(_GROUP_PREFIX + group)
    return hash_point(normalized_text(review))


def is_eval(review: str, eval_fraction: float, group: Optional[str] = None) -> bool:
    return split_point(review, group) < eval_fraction


class GroupsFormatError(ValueError):
    """A grouping file whose header is neither layout, or a row layout without --groups-for."""


def groups_layout(header: List[str], groups_for: Optional[str]) -> Tuple[str, ...]:
    """Checks a grouping file's header columns; returns the layout (GROUPS_BY_ID or _BY_ROW)."""
    columns = tuple(c.strip() for c in header)
    if columns[:2] == GROUPS_BY_ID:
        return GROUPS_BY_ID
    if columns[:2] == GROUPS_BY_ROW:
        if not groups_for:
            raise GroupsFormatError(
                'a row,movie grouping file needs --groups-for: the input file name its rows '
                'number (e.g. train.csv)')
        return GROUPS_BY_ROW
    raise GroupsFormatError(f'grouping file header must start with {",".join(GROUPS_BY_ID)} '
                            f'or {",".join(GROUPS_BY_ROW)}, not {",".join(columns)}')


def read_groups_header(path: str) -> List[str]:
    with FileSystems.open(path) as f:
        first = f.readline().decode('utf-8-sig')
    return next(csv.reader([first]), [])


def parse_group_line(line: str, layout: Tuple[str, ...],
                     groups_for: Optional[str]) -> Iterator[Tuple[str, str]]:
    """One data line of a grouping file -> (record id, group); blank lines give nothing."""
    fields = next(csv.reader([line]), [])
    if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
        return
    key, group = fields[0].strip(), fields[1].strip()
    if layout == GROUPS_BY_ROW:
        key = f'{groups_for}:{int(key)}'
    yield key, group


class ReadGroups(beam.PTransform):
    """A grouping CSV file -> (record id, group) pairs.

    Layouts: header ``id,group`` (ids as the readers give them, e.g. ``train.csv:7``),
    or the shared ``row,movie[,...]`` file with ``groups_for`` naming the CSV
    whose 1-based data rows it numbers (ids ``<groups_for>:<row>``).
    """

    def __init__(self, path: str, groups_for: Optional[str] = None):
        super().__init__()
        self._path = path
        self._groups_for = groups_for
        self._layout = groups_layout(read_groups_header(path), groups_for)

    def expand(self, pbegin):
        layout, groups_for = self._layout, self._groups_for
        return (pbegin
                | 'ReadLines' >> beam.io.ReadFromText(self._path, skip_header_lines=1)
                | 'Parse' >> beam.FlatMap(parse_group_line, layout, groups_for))


def _side(record: Dict, eval_fraction: float, groups: Dict[str, str]) -> int:
    group = groups.get(record[features.ID_KEY]) if groups else None
    if group:
        beam.metrics.Metrics.counter('split', 'by_group').inc()
    return int(is_eval(record[features.REVIEW_KEY], eval_fraction, group))


class SplitTrainEval(beam.PTransform):
    """Accepted record dicts -> (train records, eval records).

    With ``groups`` (a PCollection of (record id, group), passed to every worker
    as a side input), a review's split key is its group when known, else its
    normalized text.
    """

    def __init__(self, eval_fraction: float, groups: Optional[beam.PCollection] = None):
        super().__init__()
        self._eval_fraction = eval_fraction
        self._groups = groups

    def expand(self, records):
        fraction = self._eval_fraction
        if self._groups is None:
            return records | beam.Partition(lambda r, _: _side(r, fraction, None), 2)
        return records | beam.Partition(
            lambda r, _, groups: _side(r, fraction, groups), 2,
            beam.pvalue.AsDict(self._groups))
