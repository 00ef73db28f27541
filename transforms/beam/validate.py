"""Validation of raw review records, with a dead-letter output.

``check`` and ``normalize_label`` are plain functions; ``ValidateReviews`` is the
Beam stage that routes each record to exactly one of its two outputs.
"""

from typing import Dict, Iterator, Optional, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms import features, schema

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
    for column in features.PASS_THROUGH_COLUMNS:
        value = record.get(column.name)
        try:
            pass_through_value(column, value)
        except ValueError:
            return schema.REASON_MALFORMED, (f'{column.name} {str(value)[:40]!r} is not '
                                             f'{column.dtype}')
    return None


def pass_through_value(column: features.Column, value):
    """A pass-through column's value as its type (a CSV gives text: '7' is 7 for an int64
    column); None when absent or blank. Raises ValueError when it is not of its type."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    kind = features.PYTHON_TYPES[column.dtype]
    if kind is int and isinstance(value, str):
        value = int(value)
    if not isinstance(value, kind) or isinstance(value, bool):  # True is an int too
        raise ValueError(f'{value!r} is not {column.dtype}')
    return value


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


# What every accepted record has: readers give an id, and check() refuses no text.
_PRESENT = (features.Role.ID, features.Role.TEXT)


def accepted(record: Dict) -> Dict:
    """The clean record (of a record check() passed): its source and every declared column
    (features.COLUMNS), the label canonical, pass-through values of their type (or None)."""
    clean = {schema.SOURCE_KEY: record[schema.SOURCE_KEY]}
    for column in features.COLUMNS:
        value = record[column.name] if column.role in _PRESENT else record.get(column.name)
        if column.role is features.Role.LABEL:
            value = normalize_label(value) if value else None
        elif column.role is features.Role.PASS_THROUGH:
            value = pass_through_value(column, value)
        clean[column.name] = value
    return clean


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
