"""Deterministic train/eval(/test) split by a hash of a split key.

The key is the review's group (e.g. its movie) when a grouping is given and
knows the review's id, else its normalized text. Reviews of one group, and
identical reviews (after normalization), hash alike, so they never land on both
sides; the split does not depend on the runner, the worker or the order.

The side-file reading here (id- or row-keyed CSV files, read as a side input)
also serves the score job's ratings (transforms/ratings.py).
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


# Partition indexes of SplitTrainEval's outputs.
TRAIN, EVAL, TEST = 0, 1, 2


def side(review: str, eval_fraction: float, test_fraction: float = 0.0,
         group: Optional[str] = None) -> int:
    """TRAIN, EVAL or TEST: eval below ``eval_fraction`` of the hash range, test in the next
    ``test_fraction`` of it, so that adding a test split never moves a review of eval."""
    point = split_point(review, group)
    if point < eval_fraction:
        return EVAL
    return TEST if point < eval_fraction + test_fraction else TRAIN


class SideFileFormatError(ValueError):
    """A side file (groups, ratings) whose header is neither layout, or whose row layout
    lacks the name of the input it numbers, or a data line that cannot be read."""


GroupsFormatError = SideFileFormatError  # the name preprocess knows it by


def side_file_layout(header: List[str], by_id: Tuple[str, ...], by_row: Tuple[str, ...],
                     rows_of: Optional[str], kind: str, for_flag: str) -> Tuple[str, ...]:
    """Checks a side file's header columns against its two layouts; returns the one it has.

    ``by_id`` keys lines by record id, ``by_row`` by the 1-based data row of the input
    file ``rows_of`` (named by the flag ``for_flag``); the value is the layout's last column.
    """
    columns = tuple(c.strip() for c in header)
    if columns[:len(by_id)] == by_id:
        return by_id
    if columns[:len(by_row)] == by_row:
        if not rows_of:
            raise SideFileFormatError(
                f'a {",".join(by_row)} {kind} file needs {for_flag}: the input file name its '
                'rows number (e.g. train.csv)')
        return by_row
    raise SideFileFormatError(f'{kind} file header must start with {",".join(by_id)} '
                              f'or {",".join(by_row)}, not {",".join(columns)}')


def groups_layout(header: List[str], groups_for: Optional[str]) -> Tuple[str, ...]:
    """Checks a grouping file's header columns; returns the layout (GROUPS_BY_ID or _BY_ROW)."""
    return side_file_layout(header, GROUPS_BY_ID, GROUPS_BY_ROW, groups_for, 'grouping',
                            '--groups-for')


def read_header(path: str) -> List[str]:
    """The first line of a CSV file, split into columns (a UTF-8 BOM is dropped)."""
    with FileSystems.open(path) as f:
        first = f.readline().decode('utf-8-sig')
    return next(csv.reader([first]), [])


read_groups_header = read_header  # the name preprocess knows it by


def parse_side_line(line: str, layout: Tuple[str, ...],
                    rows_of: Optional[str]) -> Iterator[Tuple[str, str]]:
    """One data line of a side file -> (record id, value of the layout's last column).

    Blank lines, and lines whose key or value is empty, give nothing; a row number
    that is not a whole number is a ValueError."""
    fields = next(csv.reader([line]), [])
    last = len(layout) - 1
    if len(fields) <= last or not fields[0].strip() or not fields[last].strip():
        return
    key, value = fields[0].strip(), fields[last].strip()
    if layout[0] == features.ROW_KEY:
        try:
            row = int(key)
        except ValueError:
            raise ValueError(f'row {key!r} is not a whole number') from None
        key = f'{rows_of}:{row}'
    yield key, value


class ReadSideFile(beam.PTransform):
    """A side CSV file in ``layout`` -> (record id, value) pairs (see parse_side_line)."""

    def __init__(self, path: str, layout: Tuple[str, ...], rows_of: Optional[str] = None):
        super().__init__()
        self._path = path
        self._layout = layout
        self._rows_of = rows_of

    def expand(self, pbegin):
        layout, rows_of = self._layout, self._rows_of
        return (pbegin
                | 'ReadLines' >> beam.io.ReadFromText(self._path, skip_header_lines=1)
                | 'Parse' >> beam.FlatMap(parse_side_line, layout, rows_of))


class ReadGroups(ReadSideFile):
    """A grouping CSV file -> (record id, group) pairs.

    Layouts: header ``id,group`` (ids as the readers give them, e.g. ``train.csv:7``),
    or the shared ``row,movie[,...]`` file with ``groups_for`` naming the CSV
    whose 1-based data rows it numbers (ids ``<groups_for>:<row>``).
    """

    def __init__(self, path: str, groups_for: Optional[str] = None):
        super().__init__(path, groups_layout(read_header(path), groups_for), groups_for)


def _side(record: Dict, eval_fraction: float, test_fraction: float,
          groups: Dict[str, str]) -> int:
    group = groups.get(record[features.ID_KEY]) if groups else None
    if group:
        beam.metrics.Metrics.counter('split', 'by_group').inc()
    return side(record[features.REVIEW_KEY], eval_fraction, test_fraction, group)


class SplitTrainEval(beam.PTransform):
    """Accepted record dicts -> (train records, eval records, test records); the test
    split is empty unless ``test_fraction`` > 0.

    With ``groups`` (a PCollection of (record id, group), passed to every worker
    as a side input), a review's split key is its group when known, else its
    normalized text: a movie lands whole in one of the three.
    """

    def __init__(self, eval_fraction: float, groups: Optional[beam.PCollection] = None,
                 test_fraction: float = 0.0):
        super().__init__()
        self._eval_fraction = eval_fraction
        self._test_fraction = test_fraction
        self._groups = groups

    def expand(self, records):
        fraction, test = self._eval_fraction, self._test_fraction
        if self._groups is None:
            return records | beam.Partition(lambda r, _: _side(r, fraction, test, None), 3)
        return records | beam.Partition(
            lambda r, _, groups: _side(r, fraction, test, groups), 3,
            beam.pvalue.AsDict(self._groups))
