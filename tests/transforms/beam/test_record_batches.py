"""Preprocess takes reviews into tf.Transform, and writes them out, in memory that stays flat
(issue 21's holder).

tf.Transform's ExampleProtoCoder grows by every string it encodes (see
``transforms/beam/record_batches.py``), so preprocess builds Arrow record batches itself and
writes with tfx_bsl's C++ encoder. Memory is measured here as the bytes the C allocator
holds live (``mallinfo2``), which freed memory on its lists cannot hide as it can hide RSS
growth.
"""

import ctypes
import ctypes.util

import apache_beam as beam
import pytest
import tensorflow as tf
from tensorflow_transform.coders import example_proto_coder
from tensorflow_transform.tf_metadata import dataset_metadata

from pipeline import flags
from pipeline.jobs import preprocess
from tests.support.datasets import generated_reviews, write_csv
from transforms.beam.record_batches import record_batch
from transforms.tft.preprocessing import raw_metadata

REVIEW = 64 * 1024          # bytes of text a record
RECORDS = 1500              # ~96 MB of text through one coder


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        'arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks', 'fsmblks', 'uordblks',
        'fordblks', 'keepcost')]


def _live_bytes_function():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _MallInfo2
    return lambda: (lambda m: m.uordblks + m.hblkhd)(mallinfo2())


live_bytes = _live_bytes_function()
needs_mallinfo2 = pytest.mark.skipif(live_bytes is None, reason='needs glibc 2.33 (mallinfo2)')


def _schema():
    return dataset_metadata.DatasetMetadata.from_feature_spec({
        'review': tf.io.FixedLenFeature([], tf.string),
        'id': tf.io.FixedLenFeature([], tf.string),
        'label': tf.io.FixedLenFeature([], tf.int64)}).schema


def _held_after_encoding(coder) -> int:
    """Bytes still allocated, with ``coder`` alive, after it encoded RECORDS long reviews."""
    text = b'x' * REVIEW
    coder.encode({'review': text, 'id': b'0', 'label': 0})   # warm
    before = live_bytes()
    for i in range(RECORDS):
        coder.encode({'review': text[:REVIEW - i % 7], 'id': str(i).encode(), 'label': i % 2})
    return live_bytes() - before


@needs_mallinfo2
def test_tf_transforms_coder_holds_every_review_it_encoded():
    """The upstream behaviour transforms/beam/record_batches.py works around; if a release fixes
    it, this fails and record dicts could go to tf.Transform again."""
    held = _held_after_encoding(example_proto_coder.ExampleProtoCoder(_schema()))
    assert held > 0.8 * RECORDS * REVIEW, held


def _raw_arrow_schema():
    from tfx_bsl.tfxio import tf_example_record
    return tf_example_record.TFExampleBeamRecord(
        physical_format='inmem', telemetry_descriptors=['test'],
        schema=_schema()).ArrowSchema()


def _held_after(step) -> int:
    """Bytes still allocated after ``step(records)`` ran on RECORDS // 10 batches of 10 long
    reviews (about 96 MB of text in all), each batch's result dropped."""
    text = 'x' * REVIEW
    batches = [[{'review': text[:REVIEW - (i + j) % 7], 'id': f'{i}-{j}', 'label': j % 2}
                for j in range(10)] for i in range(RECORDS // 10)]
    step(batches[0])   # warm
    before = live_bytes()
    for batch in batches:
        step(batch)
    return live_bytes() - before


@needs_mallinfo2
def test_building_record_batches_holds_no_review():
    arrow_schema = _raw_arrow_schema()
    held = _held_after(lambda records: record_batch(records, arrow_schema))
    assert held < 40 * REVIEW, held   # nothing kept from a batch: not 1,500 reviews


@needs_mallinfo2
def test_the_output_encoder_holds_no_review():
    """preprocess writes its tf.Examples with tfx_bsl's encoder (tf.Transform's
    EncodeTransformedDataset on record batches): it must not keep what it encoded either."""
    from tfx_bsl.coders import example_coder
    arrow_schema = _raw_arrow_schema()
    encoder = example_coder.RecordBatchToExamplesEncoder(_schema())
    held = _held_after(lambda records: encoder.encode(record_batch(records, arrow_schema)))
    assert held < 40 * REVIEW, held


def test_a_record_batch_is_what_tf_transforms_decoder_makes_of_the_examples():
    """The batches tf.Transform reads are the ones its own path (Example, then tfx_bsl's
    decoder) would give: the same types and values, text as UTF-8."""
    from tfx_bsl.coders import example_coder
    records = [{'review': f'r\u00e9view {i} <br />' * i, 'id': f'id-{i}', 'label': i % 2 - (i == 3)}
               for i in range(6)]
    coder = example_proto_coder.ExampleProtoCoder(_schema())
    decoder = example_coder.ExamplesToRecordBatchDecoder(_schema().SerializeToString())
    theirs = decoder.DecodeBatch([coder.encode(r) for r in records])
    ours = record_batch(records, _raw_arrow_schema())
    assert ours.schema.equals(theirs.schema.remove_metadata()), (ours.schema, theirs.schema)
    assert ours.to_pydict() == theirs.to_pydict()


def test_preprocess_never_hands_tf_transform_record_dicts(tmp_path):
    """From record dicts tf.Transform makes its record batches with its own coder, the one that
    grows: preprocess's graph must not contain that conversion, nor encode its output from
    record dicts."""
    data = write_csv(str(tmp_path / 'r.csv'), generated_reviews(20, seed=3))
    job_args, _ = flags.parse('preprocess', ['--input', data, '--output', str(tmp_path / 'o')])
    p = beam.Pipeline()
    preprocess.build(p, job_args, preprocess.plan(job_args), str(tmp_path / 'work'))
    names = [t.unique_name for t in p.to_runner_api().components.transforms.values()]
    assert not [n for n in names if 'InstanceDictToRecordBatch' in n]
    assert any(n.endswith('ToRecordBatches[Train]') for n in names)
    # The outputs are encoded from record batches, by tfx_bsl's C++ encoder, not record dicts.
    for name in ('train', 'eval'):
        assert any(n.startswith(f'Encode[{name}]') and n.endswith('EncodeRecordBatches')
                   for n in names), name
    assert not [n for n in names if n.endswith('EncodeInstances')]


def test_record_batches_carry_the_raw_features():
    from apache_beam.testing.util import assert_that, equal_to
    from transforms.beam.record_batches import ToRecordBatches
    records = [{'id': f'id-{i}', 'review': f'review {i}', 'label': i % 2} for i in range(5)]
    with beam.Pipeline() as p:
        batches = p | beam.Create(records) | ToRecordBatches(raw_metadata())
        rows = batches | beam.FlatMap(lambda b: zip(*(b.column(n).to_pylist()
                                                      for n in ('id', 'review', 'label'))))
        assert_that(rows, equal_to([([r['id'].encode()], [r['review'].encode()], [r['label']])
                                    for r in records]))
