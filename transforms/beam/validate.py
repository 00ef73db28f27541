"""Validation of raw review records, with a dead-letter output.

``check`` and ``normalize_label`` are plain functions; ``ValidateReviews`` is the
Beam stage that routes each record to exactly one of its two outputs.
"""

from typing import Dict, Iterator, Optional, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms import schema

ACCEPTED = 'accepted'
REJECTED = 'rejected'


def normalize_label(value: Optional[str]) -> Optional[str]:
    """'positive'/'negative' in any case with surrounding spaces, plus the aliases
    in ``schema.LABEL_ALIASES`` (pos/neg, 1/0) -> the canonical value; else None."""
    if value is None:
        return None
    key = value.strip().lower()
    if key in schema.LABEL_VALUES:
        return key
    return schema.LABEL_ALIASES.get(key)


def check(record: Dict, require_label: bool, max_review_chars: int) -> Optional[Tuple[str, str]]:
    """(reason, detail) when the record cannot be used, else None."""
    if record.get(schema.PARSE_ERROR_KEY):
        return record[schema.PARSE_ERROR_KEY], record.get(schema.DETAIL_KEY, '')
    review = record.get(schema.REVIEW_KEY)
    if review is None or not review.strip():
        return schema.REASON_EMPTY, 'review is empty or whitespace only'
    if len(review) > max_review_chars:
        return schema.REASON_TOO_LONG, f'{len(review)} characters > {max_review_chars}'
    label = record.get(schema.LABEL_KEY)
    if label is None or not label.strip():
        if require_label:
            return schema.REASON_MISSING_LABEL, 'no label'
    elif normalize_label(label) is None:
        return schema.REASON_UNKNOWN_LABEL, f'label {label[:40]!r} is not positive/negative'
    return None


def rejection(record: Dict, reason: str, detail: str) -> Dict:
    """The dead-letter row: the record's id and source, why, and the raw record (and its
    exact bytes in base64 when they are not UTF-8)."""
    row = {schema.ID_KEY: record.get(schema.ID_KEY),
           schema.SOURCE_KEY: record.get(schema.SOURCE_KEY),
           schema.REASON_KEY: reason,
           schema.DETAIL_KEY: detail,
           schema.RAW_KEY: record.get(schema.RAW_KEY)}
    if record.get(schema.RAW_BASE64_KEY):
        row[schema.RAW_BASE64_KEY] = record[schema.RAW_BASE64_KEY]
    return row


def accepted(record: Dict) -> Dict:
    """The clean record: id, source, review, canonical label (or None), rating."""
    label = record.get(schema.LABEL_KEY)
    return {schema.ID_KEY: record[schema.ID_KEY],
            schema.SOURCE_KEY: record[schema.SOURCE_KEY],
            schema.REVIEW_KEY: record[schema.REVIEW_KEY],
            schema.LABEL_KEY: normalize_label(label) if label else None,
            schema.RATING_KEY: record.get(schema.RATING_KEY)}


class _Validate(beam.DoFn):
    def __init__(self, require_label: bool, max_review_chars: int):
        self._require_label = require_label
        self._max_review_chars = max_review_chars
        self._accepted = Metrics.counter('validation', ACCEPTED)
        self._rejected = {r: Metrics.counter('validation', f'{REJECTED}_{r}')
                          for r in schema.REASONS}

    def process(self, record: Dict) -> Iterator:
        problem = check(record, self._require_label, self._max_review_chars)
        if problem is None:
            self._accepted.inc()
            yield accepted(record)
        else:
            self._rejected[problem[0]].inc()
            yield beam.pvalue.TaggedOutput(REJECTED, rejection(record, *problem))


class ValidateReviews(beam.PTransform):
    """Raw record dicts -> outputs ``accepted`` (clean records) and ``rejected``
    (dead-letter rows with id, source, reason, detail and the raw record)."""

    def __init__(self, require_label: bool, max_review_chars: int):
        super().__init__()
        self._require_label = require_label
        self._max_review_chars = max_review_chars

    def expand(self, records):
        return records | beam.ParDo(
            _Validate(self._require_label, self._max_review_chars)).with_outputs(
                REJECTED, main=ACCEPTED)
