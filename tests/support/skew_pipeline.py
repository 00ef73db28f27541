"""A small pipeline with each kind of transform the three jobs use, to hold a cluster to the
DirectRunner across the version skew: this project's Python SDK is Beam 2.77, the clusters' job
servers Beam 2.62 (pipeline/cluster/README.md, "The version skew").

``build(p, out_dir, model_dir, temp_dir)`` wires Create, Reshuffle, a ParDo with a tagged second
output and a counter, GroupByKey, CombinePerKey, CombineGlobally, the Count and Top combiners,
side inputs (AsDict, AsSingleton, AsList), Partition, Flatten, WriteToText, WriteToTFRecord,
RunInference (keyed, with exception handling) through the project's model handler, and
tf.Transform's AnalyzeAndTransformDataset, TransformDataset (on record dicts, and as preprocess
runs it: on the Arrow record batches of ``transforms/beam/record_batches.py``, giving record
batches that EncodeTransformedDataset encodes) and WriteTransformFn over the preprocess job's own
preprocessing_fn (``tft.vocabulary``, ``tft.ngrams`` and the counting analyzer of
``transforms/tft/counting.py``) plus a mean and variance (``scale_to_z_score``) and quantiles
(``bucketize``). ``outputs(out_dir)`` reads it all back as ordered plain values.
The SDK workers import this module (``tests`` is on their path, as the repository root is).
"""

import glob
import json
import os
from typing import Dict, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from tests.support.datasets import generated_reviews
from transforms import schema

REVIEWS = generated_reviews(120, seed=7)
COUNTER = ('skew', 'words')


class _SplitWords(beam.DoFn):
    """(i, (text, label)) -> (word, 1) per word; (label, 1) to the ``labels`` output."""

    def __init__(self):
        self._words = Metrics.counter(*COUNTER)

    def process(self, row):
        _, (text, label) = row
        words = text.lower().split()
        self._words.inc(len(words))
        for word in words:
            yield word, 1
        yield beam.pvalue.TaggedOutput('labels', (label, 1))


def _join(kv, grouped, total, labels) -> str:
    word, count = kv
    return f'{word}\t{count}\t{grouped[word]}\t{total}\t{sorted(labels)}'


def _prediction(keyed) -> str:
    i, result = keyed
    return f'{i}\t{result.inference["probability"]!r}\t{result.inference["label"]}'


def _raw_example(row) -> Dict:
    i, (text, label) = row
    return {schema.ID_KEY: f'r{i}', schema.REVIEW_KEY: text,
            schema.LABEL_KEY: int(label == 'positive')}


def _plain(instance) -> str:
    import numpy as np
    return json.dumps({k: np.asarray(v).tolist() if not isinstance(v, bytes) else v.decode()
                       for k, v in sorted(instance.items())}, sort_keys=True)


def _preprocessing_fn():
    import tensorflow as tf
    import tensorflow_transform as tft
    from transforms.tft.preprocessing import TransformConfig, make_preprocessing_fn
    job_fn = make_preprocessing_fn(TransformConfig(max_tokens=8, vocab_top_k=40, ngram_max=2,
                                                   ngram_vocab_top_k=60))

    def preprocessing_fn(inputs):
        out = job_fn(inputs)
        length = tf.cast(out[schema.NUM_TOKENS_KEY], tf.float32)
        out['length_z'] = tft.scale_to_z_score(length)
        out['length_bucket'] = tft.bucketize(length, 3)
        return out

    return preprocessing_fn


def build(p: beam.Pipeline, out_dir: str, model_dir: str, temp_dir: str) -> None:
    from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from transforms.beam.inference import ReviewModelHandler
    from transforms.tft.preprocessing import raw_metadata
    from transforms.beam.record_batches import ToRecordBatches

    rows = (p | 'Create' >> beam.Create(list(enumerate(REVIEWS)))
            | 'Reshuffle' >> beam.Reshuffle())
    split = rows | 'SplitWords' >> beam.ParDo(_SplitWords()).with_output_types(
        Tuple[str, int]).with_outputs('labels', main='words')
    grouped = (split.words | 'GroupByKey' >> beam.GroupByKey()
               | 'SumGroups' >> beam.MapTuple(lambda word, ones: (word, sum(ones))))
    counts = split.words | 'CombinePerKey' >> beam.CombinePerKey(sum)
    total = split.words | 'Ones' >> beam.Values() | 'CombineGlobally' >> beam.CombineGlobally(sum)
    labels = split.labels | 'CountLabels' >> beam.combiners.Count.PerKey()
    _ = (counts
         | 'Join' >> beam.Map(_join, beam.pvalue.AsDict(grouped), beam.pvalue.AsSingleton(total),
                              beam.pvalue.AsList(labels))
         | 'WriteCounts' >> beam.io.WriteToText(os.path.join(out_dir, 'counts')))
    _ = (counts | 'Top' >> beam.combiners.Top.Of(5, key=lambda kv: (kv[1], kv[0]))
         | 'TopJson' >> beam.Map(json.dumps)
         | 'WriteTop' >> beam.io.WriteToText(os.path.join(out_dir, 'top')))

    texts = rows | 'Texts' >> beam.Map(lambda row: f'{row[0]}\t{row[1][0]}')
    short, long_ = texts | 'Partition' >> beam.Partition(lambda t, n: int(len(t) > 150), 2)
    _ = ((short | 'Short' >> beam.Map(lambda t: 'short\t' + t),
          long_ | 'Long' >> beam.Map(lambda t: 'long\t' + t))
         | 'Flatten' >> beam.Flatten() | 'Encode' >> beam.Map(str.encode)
         | 'WriteParts' >> beam.io.WriteToTFRecord(os.path.join(out_dir, 'parts')))

    scored, failed = (rows | 'Keyed' >> beam.MapTuple(lambda i, review: (i, review[0]))
              | 'RunInference' >> RunInference(KeyedModelHandler(
                  ReviewModelHandler(model_dir, 8, 32))).with_exception_handling())
    _ = ((scored | 'FormatPredictions' >> beam.Map(_prediction),
          failed.failed_inferences | 'FormatFailures' >> beam.Map(lambda f: f'failed\t{f}'))
         | 'Predictions' >> beam.Flatten()
         | 'WritePredictions' >> beam.io.WriteToText(os.path.join(out_dir, 'predictions')))

    with tft_beam.Context(temp_dir=temp_dir):
        raw = rows | 'ToRaw' >> beam.Map(_raw_example)
        (data, metadata), transform_fn = (
            (raw, raw_metadata())
            | 'AnalyzeAndTransform' >> tft_beam.AnalyzeAndTransformDataset(_preprocessing_fn()))
        again, _ = ((raw, raw_metadata()), transform_fn) | 'Transform' >> tft_beam.TransformDataset()
        # preprocess's own path: Arrow record batches in, record batches out, encoded in C++.
        batches = ToRecordBatches(raw_metadata())
        batched = ((((raw | 'ToRecordBatches' >> batches, batches.tensor_adapter_config()),
                     transform_fn)
                    | 'TransformBatches' >> tft_beam.TransformDataset(output_record_batches=True)))
        _ = (batched | 'EncodeBatches' >> tft_beam.EncodeTransformedDataset()
             | 'WriteBatches' >> beam.io.WriteToTFRecord(os.path.join(out_dir, 'batches')))
        _ = transform_fn | 'WriteTransformFn' >> tft_beam.WriteTransformFn(
            os.path.join(out_dir, 'transform'))
    _ = (data | 'WriteExamples' >> beam.io.WriteToTFRecord(
        os.path.join(out_dir, 'examples'), coder=tft.coders.ExampleProtoCoder(metadata.schema)))
    _ = (again | 'Plain' >> beam.Map(_plain)
         | 'WriteTransformed' >> beam.io.WriteToText(os.path.join(out_dir, 'transformed')))


def _files(out_dir: str, prefix: str):
    return sorted(glob.glob(os.path.join(out_dir, f'{prefix}-*')))


def _lines(out_dir: str, prefix: str):
    found = []
    for path in _files(out_dir, prefix):
        with open(path, encoding='utf-8') as f:
            found += f.read().splitlines()
    return sorted(found)


def _records(out_dir: str, prefix: str):
    import tensorflow as tf
    return sorted(r.numpy() for r in tf.data.TFRecordDataset(_files(out_dir, prefix)))


def _example(record: bytes) -> Dict:
    import tensorflow as tf
    features = tf.train.Example.FromString(record).features.feature
    return {k: list(getattr(v, v.WhichOneof('kind')).value) if v.WhichOneof('kind') else []
            for k, v in sorted(features.items())}


def outputs(out_dir: str) -> Dict[str, object]:
    """Every output as plain values in an order that does not depend on the runner; floats
    (sums of another order on another runner) to compare within a tolerance."""
    predictions = [line.split('\t') for line in _lines(out_dir, 'predictions')]
    found = {
        'counts': _lines(out_dir, 'counts'), 'top': _lines(out_dir, 'top'),
        'predictions': sorted([int(i), float(p), label] for i, p, label in predictions),
        'transformed': sorted((json.loads(line) for line in _lines(out_dir, 'transformed')),
                              key=lambda e: e[schema.ID_KEY]),
        'examples': sorted((_example(r) for r in _records(out_dir, 'examples')),
                           key=lambda e: e[schema.ID_KEY]),
        'parts': _records(out_dir, 'parts'),
        'batches': sorted((_example(r) for r in _records(out_dir, 'batches')),
                          key=lambda e: e[schema.ID_KEY]),
    }
    assets = os.path.join(out_dir, 'transform', 'transform_fn', 'assets')
    for name in sorted(os.listdir(assets)):
        with open(os.path.join(assets, name), 'rb') as f:
            found[f'asset:{name}'] = f.read()
    return found


def run(beam_args, out_dir: str, model_dir: str) -> Dict[str, object]:
    """Runs the pipeline with ``beam_args``; returns {'outputs': ..., 'words_counted': N}."""
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.options.pipeline_options import PipelineOptions
    p = beam.Pipeline(options=PipelineOptions(list(beam_args)))
    build(p, out_dir, model_dir, os.path.join(out_dir, 'tmp'))
    result = p.run()
    result.wait_until_finish()
    counters = result.metrics().query(MetricsFilter().with_name(COUNTER[1]))['counters']
    # Beam's Spark runner reports attempted values only (committed is None there).
    return {'state': str(result.state), 'outputs': outputs(out_dir),
            'words_counted': sum(c.attempted if c.committed is None else c.committed
                                 for c in counters)}
