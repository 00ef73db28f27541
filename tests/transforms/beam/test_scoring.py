"""Scoring by length: the served graph cuts padding after a batch's longest review, and the
score job hands RunInference its records in runs sorted by length (issue 21's score speed)."""

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP

from trainer.export import trim_padding
from transforms import schema
from transforms.beam.scoring import LengthOrder


@pytest.mark.parametrize('ids, width', [
    ([[4, 5, 0, 0, 0], [6, 0, 0, 0, 0]], 2),
    ([[4, 5, 6, 7, 8], [6, 0, 0, 0, 0]], 5),   # one full row keeps every column
    ([[0, 0, 0], [0, 0, 0]], 1),               # only empty reviews: one padding column
])
def test_trim_padding_keeps_the_longest_row(ids, width):
    ids = tf.constant(ids, tf.int64)
    trimmed = trim_padding(ids).numpy()
    assert trimmed.shape == (2, width)
    np.testing.assert_array_equal(trimmed, ids.numpy()[:, :width])
    assert not ids.numpy()[:, width:].any()  # nothing but padding was cut


def test_trim_padding_of_an_empty_batch():
    assert trim_padding(tf.zeros([0, 400], tf.int64)).shape == (0, 1)


def _records(lengths):
    return [{schema.ID_KEY: f'r{i}', schema.REVIEW_KEY: 'w' * n} for i, n in enumerate(lengths)]


def _run(fn, records):
    """Every output of one bundle, as the runner would call the DoFn."""
    fn.start_bundle()
    out = [w for r in records for w in fn.process(r, MIN_TIMESTAMP, GlobalWindow())]
    return out + list(fn.finish_bundle())


def test_length_order_sorts_each_run_and_keeps_every_record():
    lengths = [9, 3, 7, 1, 8, 2, 6, 5, 4, 10, 0]
    out = _run(LengthOrder(run=4), _records(lengths))
    sizes = [len(w.value[schema.REVIEW_KEY]) for w in out]
    assert sizes == [1, 3, 7, 9, 2, 5, 6, 8, 0, 4, 10]  # runs of 4, the rest at the end
    assert sorted(w.value[schema.ID_KEY] for w in out) == sorted(f'r{i}' for i in range(11))
    assert all(w.windows == (GlobalWindow(),) and w.timestamp == MIN_TIMESTAMP for w in out)


def test_length_order_holds_no_more_than_a_run():
    fn = LengthOrder(run=3)
    fn.start_bundle()
    for i, record in enumerate(_records(range(10))):
        list(fn.process(record, MIN_TIMESTAMP, GlobalWindow()))
        assert len(fn._held) == (i + 1) % 3


def test_length_order_on_the_direct_runner_loses_nothing():
    records = _records([5, 1, 4, 1, 5, 9, 2, 6] * 50)
    with beam.Pipeline() as p:
        out = (p | beam.Create(records) | beam.ParDo(LengthOrder(run=16))
               | beam.Map(lambda r: r[schema.ID_KEY]))
        assert_that(out, equal_to([r[schema.ID_KEY] for r in records]))
