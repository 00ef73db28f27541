"""Deterministic train/eval split by a hash of the normalized review text.

Identical reviews (after normalization) hash alike, so they never land on both
sides, and the split does not depend on the runner, the worker or the order.
"""

import hashlib
import re

import apache_beam as beam

from transforms import features

_TAG = re.compile(r'<[^>]*>')
_SPACE = re.compile(r'\s+')


def normalized_text(review: str) -> str:
    """Lowercase, HTML tags dropped, whitespace collapsed: the duplicate key."""
    return _SPACE.sub(' ', _TAG.sub(' ', review.lower())).strip()


def split_point(review: str) -> float:
    """A stable number in [0, 1) from the normalized text."""
    digest = hashlib.sha256(normalized_text(review).encode('utf-8')).digest()
    return int.from_bytes(digest[:8], 'big') / float(1 << 64)


def is_eval(review: str, eval_fraction: float) -> bool:
    return split_point(review) < eval_fraction


class SplitTrainEval(beam.PTransform):
    """Accepted record dicts -> (train records, eval records)."""

    def __init__(self, eval_fraction: float):
        super().__init__()
        self._eval_fraction = eval_fraction

    def expand(self, records):
        fraction = self._eval_fraction
        return records | beam.Partition(
            lambda r, _: int(is_eval(r[features.REVIEW_KEY], fraction)), 2)
