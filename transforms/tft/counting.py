"""A vocabulary analyzer for millions of distinct strings: counted in dictionaries, not keys.

``tft.vocabulary`` makes every distinct (batch, string) pair a Beam element and sums
them per key through a shuffle: with 1-3-grams that is millions of elements, each
encoded, sent and decoded, which made the n-gram vocabulary most of preprocess's time
(about 70% of it, profiled on the DirectRunner: benchmarks/README.md). Here each
worker counts a bundle's strings in one dictionary (at C speed), and only that
dictionary, cut into ``shards`` by a stable hash of the string (computed in the
TensorFlow graph), crosses the
shuffle: a few elements per bundle instead of one per distinct string. Each shard
is summed on its own (so the work and the memory spread over the workers of a
cluster), keeps its ``top_k`` most frequent strings at or above the threshold, and
one step merges those candidates and writes the vocabulary file.

The file is what ``tft.vocabulary`` would write for the same input, ``top_k`` and
``frequency_threshold``: one string per line, by falling count, equal counts in
reverse byte order; strings that a text file cannot hold (empty, or with a line
break) left out. ``tft.apply_vocabulary`` and ``TFTransformOutput.vocabulary_file_by_name``
read it as theirs.
"""

import collections
import os
from typing import Dict, Iterable, Iterator, List, Tuple

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from apache_beam.transforms import window

# A bundle's dictionary is cut and sent on when it holds this many strings, so a worker's
# memory stays bounded however large its bundles are.
MAX_KEYS_PER_BUNDLE = 2_000_000
DEFAULT_SHARDS = 16


def count_vocabulary(x: tf.Tensor, top_k: int, frequency_threshold: int, vocab_filename: str,
                     shards: int = DEFAULT_SHARDS,
                     max_keys_per_bundle: int = MAX_KEYS_PER_BUNDLE) -> tf.Tensor:
    """In a ``preprocessing_fn``: the vocabulary of the strings in ``x`` (any shape), as
    the path of its file (an asset named ``vocab_filename``) for ``tft.apply_vocabulary``."""
    values = x.values if isinstance(x, (tf.SparseTensor, tf.RaggedTensor)) else x
    values = tf.reshape(values, [-1])
    # Each string's shard, from a fingerprint that is the same on every machine.
    shard = tf.strings.to_hash_bucket_fast(values, shards)
    path, = tft.experimental.ptransform_analyzer(
        [values, shard],
        CountTopK(top_k, frequency_threshold, vocab_filename, shards, max_keys_per_bundle),
        output_dtypes=[tf.string], output_shapes=[[]],
        output_asset_default_values=[vocab_filename.encode()],
        name=f'count_vocabulary_{vocab_filename}')
    return path


class _CountInBundle(beam.DoFn):
    """Batches of (strings, their shards) -> (shard, {string: count}) per bundle, sooner
    when the bundle's dictionaries hold ``max_keys`` strings."""

    def __init__(self, shards: int, max_keys: int):
        self._shards, self._max_keys = shards, max_keys

    def start_bundle(self):
        self._counts = [collections.Counter() for _ in range(self._shards)]

    def process(self, batch: Tuple[np.ndarray, np.ndarray]):
        values, shards = batch
        order = np.argsort(shards, kind='stable')
        values = values[order]
        bounds = np.searchsorted(shards[order], np.arange(self._shards + 1))
        for shard, counts in enumerate(self._counts):
            if bounds[shard] < bounds[shard + 1]:
                counts.update(values[bounds[shard]:bounds[shard + 1]].tolist())
        if sum(len(c) for c in self._counts) >= self._max_keys:
            yield from self._send()

    def finish_bundle(self):
        for shard_counts in self._send():
            yield window.GlobalWindows.windowed_value(shard_counts)

    def _send(self) -> Iterator[Tuple[int, Dict[bytes, int]]]:
        counts, self._counts = self._counts, [collections.Counter() for _ in range(self._shards)]
        return ((shard, c) for shard, c in enumerate(counts) if c)


class _SumCounts(beam.CombineFn):
    """{string: count} dictionaries -> their sum."""

    def create_accumulator(self) -> Dict[bytes, int]:
        return collections.Counter()

    def add_input(self, total, counts):
        total.update(counts)
        return total

    def merge_accumulators(self, totals: Iterable[Dict[bytes, int]]):
        totals = iter(totals)
        merged = next(totals)
        for other in totals:
            merged.update(other)
        return merged

    def extract_output(self, total):
        return total


def _storable(key: bytes) -> bool:
    return bool(key) and b'\n' not in key and b'\r' not in key


def _order(item: Tuple[bytes, int]) -> Tuple[int, bytes]:
    return item[1], item[0]  # by count, then bytes; sorted in reverse


def _shard_candidates(shard_total: Tuple[int, Dict[bytes, int]], top_k: int,
                      threshold: int) -> List[Tuple[bytes, int]]:
    """A shard's strings that may be in the vocabulary: its own top_k at the threshold."""
    _, total = shard_total
    kept = [(k, c) for k, c in total.items() if c >= threshold and _storable(k)]
    kept.sort(key=_order, reverse=True)
    return kept[:top_k]


class _WriteVocabulary(beam.DoFn):
    def __init__(self, top_k: int, filename: str, base_dir: str):
        self._top_k, self._filename, self._base_dir = top_k, filename, base_dir

    def process(self, candidate_lists: List[List[Tuple[bytes, int]]]):
        merged = [item for candidates in candidate_lists for item in candidates]
        merged.sort(key=_order, reverse=True)
        tf.io.gfile.makedirs(self._base_dir)  # tf.Transform's own, unique to this analyzer
        path = os.path.join(self._base_dir, self._filename)
        with tf.io.gfile.GFile(path, 'wb') as f:
            f.write(b''.join(key + b'\n' for key, _ in merged[:self._top_k]))
        yield np.array(path.encode())


class CountTopK(tft_beam.experimental.PTransformAnalyzer):
    """The analyzer of ``count_vocabulary``: batches of strings -> the vocabulary file's path."""

    def __init__(self, top_k: int, frequency_threshold: int, filename: str,
                 shards: int = DEFAULT_SHARDS, max_keys_per_bundle: int = MAX_KEYS_PER_BUNDLE):
        super().__init__()
        if top_k < 1 or shards < 1 or max_keys_per_bundle < 1:
            raise ValueError('top_k, shards and max_keys_per_bundle must be at least 1')
        self._top_k, self._threshold = top_k, max(1, frequency_threshold)
        self._filename, self._shards, self._max_keys = filename, shards, max_keys_per_bundle

    def expand(self, batches):
        base_dir = self.base_temp_dir
        if not base_dir:  # tf.Transform sets it from its Context's temp_dir
            raise ValueError('CountTopK runs inside tf.Transform, which gives it a temp folder')
        return (batches
                | 'CountInBundles' >> beam.ParDo(_CountInBundle(self._shards, self._max_keys))
                | 'SumPerShard' >> beam.CombinePerKey(_SumCounts())
                | 'TopPerShard' >> beam.Map(_shard_candidates, self._top_k, self._threshold)
                | 'Gather' >> beam.combiners.ToList()
                | 'Write' >> beam.ParDo(_WriteVocabulary(self._top_k, self._filename, base_dir)))
