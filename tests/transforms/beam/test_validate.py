"""Validation rules, the dead-letter output, and count reconciliation."""

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.runtime.reconcile import counts_summary
from transforms.errors import CountsDoNotReconcile
from transforms import schema
from transforms.beam.validate import ValidateReviews, check, normalize_label


def _rec(review='A fine film', label='positive', **extra):
    return dict({'id': 'f:1', 'source': 'f', 'review': review, 'label': label, 'raw': 'x'}, **extra)


@pytest.mark.parametrize('value, expected', [
    ('positive', 'positive'), (' NEGATIVE ', 'negative'), ('Pos', 'positive'),
    ('0', 'negative'), ('1', 'positive'), ('meh', None), (None, None)])
def test_normalize_label(value, expected):
    assert normalize_label(value) == expected


@pytest.mark.parametrize('record, reason', [
    (_rec(review=''), schema.REASON_EMPTY),
    (_rec(review=' \t '), schema.REASON_EMPTY),
    (_rec(label=None), schema.REASON_MISSING_LABEL),
    (_rec(label='  '), schema.REASON_MISSING_LABEL),
    (_rec(label='great'), schema.REASON_UNKNOWN_LABEL),
    (_rec(review='x' * 101), schema.REASON_TOO_LONG),
    (_rec(parse_error=schema.REASON_MALFORMED), schema.REASON_MALFORMED),
    (_rec(parse_error=schema.REASON_UNDECODABLE), schema.REASON_UNDECODABLE),
])
def test_every_rejection_reason(record, reason):
    assert check(record, require_label=True, max_review_chars=100)[0] == reason


def test_valid_record_and_optional_label():
    assert check(_rec(), True, 100) is None
    assert check(_rec(label=None), require_label=False, max_review_chars=100) is None


def test_validate_routes_each_record_to_one_output():
    records = [_rec(), _rec(review='', label='positive'), _rec(label='Negative')]
    records = [dict(r, id=f'f:{i}') for i, r in enumerate(records)]
    with TestPipeline() as p:
        out = p | beam.Create(records) | ValidateReviews(require_label=True, max_review_chars=100)
        assert_that(out.accepted | beam.Map(lambda r: (r['id'], r['label'])),
                    equal_to([('f:0', 'positive'), ('f:2', 'negative')]), label='Accepted')
        assert_that(out.rejected | beam.Map(lambda r: (r['id'], r['reason'], r['raw'])),
                    equal_to([('f:1', schema.REASON_EMPTY, 'x')]), label='Rejected')


def test_counts_reconcile_and_threshold():
    counts = {'read': 100, 'accepted': 98, 'rejected': 2, 'rejected:empty_review': 2}
    ok = counts_summary(counts, 0.05)
    assert ok['status'] == 'ok' and ok['rejected_by_reason']['empty_review'] == 2
    failed = counts_summary(counts, 0.01)
    assert failed['status'] == 'failed' and '2 of 100' in failed['error']
    with pytest.raises(CountsDoNotReconcile):
        counts_summary({'read': 100, 'accepted': 97, 'rejected': 2}, 0.5)
