"""Deterministic train/eval(/test) split by a hash of a split key.

The key is the review's group (e.g. its movie) when a grouping is given and
knows the review's id, else its normalized text. Reviews of one group, and
identical reviews (after normalization), hash alike, so they never land on both
sides; the split does not depend on the runner, the worker or the order.

The groups come from the movies side file (``transforms.beam.movies``).
"""

import hashlib
import re
from typing import Dict, Optional

import apache_beam as beam

from transforms import schema

_TAG = re.compile(r'<[^>]*>')

# Groups hash in their own namespace, so a group can never collide with a review text.
_GROUP_PREFIX = 'group\x00'


def normalized_text(review: str) -> str:
    """Lowercase, HTML tags dropped, whitespace collapsed: the duplicate key."""
    # str.split() cuts at the same characters as the regex \s (str.isspace()) and drops the
    # ends, so this is the regex collapse and strip, at 2.7x its speed
    # (tests/transforms/beam/test_split.py).
    return ' '.join(_TAG.sub(' ', review.lower()).split())


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


def _side(record: Dict, eval_fraction: float, test_fraction: float,
          groups: Dict[str, str]) -> int:
    group = groups.get(record[schema.ID_KEY]) if groups else None
    if group:
        beam.metrics.Metrics.counter('split', 'by_group').inc()
    return side(record[schema.REVIEW_KEY], eval_fraction, test_fraction, group)


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
