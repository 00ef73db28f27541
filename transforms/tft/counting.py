"""A vocabulary analyzer for millions of distinct strings: counted in dictionaries, not keys.

``tft.vocabulary`` makes every distinct (batch, string) pair a Beam element and sums
them per key through a shuffle: with 1-3-grams that is millions of elements, each
encoded, sent and decoded, which made the n-gram vocabulary most of preprocess's time
(about 70% of it, profiled on the DirectRunner: benchmarks/README.md). Here each
worker counts a bundle's strings in one dictionary (at C speed), cut into ``shards``
by a stable hash of the string (computed in the TensorFlow graph). When a bundle's
dictionaries hold ``max_keys_per_bundle`` strings, and at the end of the bundle, the
shards' counts are written one after another into one file (each shard's part a run)
under tf.Transform's temp folder, and only (shard, where its run lies) crosses the
shuffle: one file a flush, not one a shard, so that on an object store the requests
grow with the flushes (uploads, deletes) and the runs read (one ranged download each),
not 64 times the flushes. Each shard then sums its
runs on its own and writes its ``top_k`` most frequent strings at or above the
threshold to a file, best first; one step reads those files twice (first the counts, for
the ``top_k``-th largest, then the strings above it and enough of those at it) and writes
the vocabulary file. Only file paths cross a shuffle: on Flink, the candidate lists
themselves, combined globally, made one record of every partition's ``top_k`` candidates
(271 MB at 1M reviews, over 40 partitions), too big for the heap.

Memory (issue 21): the counts of every distinct string are never in memory at once,
only one bundle's dictionaries (``max_keys_per_bundle`` strings) and then one shard's
sums (about 1/``shards`` of the distinct strings), plus ``top_k`` candidates twice. Before,
the per-shard sums went through a combine, and the DirectRunner held all of them (all
the distinct n-grams, which grow with new text) in one process, and the candidates of
every shard (up to ``shards`` x ``top_k``) were gathered in one list and sorted. The runs
take disk instead: about 20 bytes per distinct string of each run.

The file is what ``tft.vocabulary`` would write for the same input, ``top_k`` and
``frequency_threshold``: one string per line, by falling count, equal counts in
reverse byte order; strings that a text file cannot hold (empty, or with a line
break) left out. ``tft.apply_vocabulary`` and ``TFTransformOutput.vocabulary_file_by_name``
read it as theirs.
"""

import collections
import heapq
import os
import pickle
import uuid
from typing import Dict, Iterable, List, Optional, Tuple

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from apache_beam.transforms import window

from transforms import local_copy

# A bundle's dictionaries are written out when they hold this many strings, so a worker's
# memory stays bounded however large its bundles are.
MAX_KEYS_PER_BUNDLE = 2_000_000
# One shard's sums are in memory at a time: about 1/DEFAULT_SHARDS of the distinct strings.
DEFAULT_SHARDS = 64


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


# Where a run lies: its file, the byte it starts at and its size.
RunPlace = Tuple[str, int, int]


class _CountInBundle(beam.DoFn):
    """Batches of (strings, their shards) -> (shard, where its run lies) per bundle and
    shard, sooner when the bundle's dictionaries hold ``max_keys`` strings."""

    def __init__(self, shards: int, max_keys: int, run_dir: str):
        self._shards, self._max_keys, self._run_dir = shards, max_keys, run_dir

    def setup(self):
        tf.io.gfile.makedirs(self._run_dir)

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
            yield from self._write_runs()

    def finish_bundle(self):
        for shard_run in self._write_runs():
            yield window.GlobalWindows.windowed_value(shard_run)

    def _write_runs(self) -> List[Tuple[int, RunPlace]]:
        counts, self._counts = self._counts, [collections.Counter() for _ in range(self._shards)]
        if not any(counts):
            return []
        path = os.path.join(self._run_dir, f'{uuid.uuid4().hex}.runs')
        return [(shard, place) for shard, place in enumerate(write_runs(path, counts))
                if place is not None]


def _pickled(counts: Dict[bytes, int]) -> bytes:
    return pickle.dumps((list(counts), list(counts.values())), protocol=5)


def write_runs(path: str, shard_counts: List[Optional[Dict[bytes, int]]]
               ) -> List[Optional[RunPlace]]:
    """Each shard's {string: count}, one after another, into one file: where each lies (None
    for a shard with none). A shard's counts are dropped from the list once written."""
    places: List[Optional[RunPlace]] = [None] * len(shard_counts)
    offset = 0
    with tf.io.gfile.GFile(path, 'wb') as f:
        for shard, counts in enumerate(shard_counts):
            if counts:
                data = _pickled(counts)
                shard_counts[shard] = None  # freed before the next shard is pickled
                f.write(data)
                places[shard] = (path, offset, len(data))
                offset += len(data)
    return places


def write_run(path: str, counts: Dict[bytes, int]) -> None:
    """{string: count} -> a file of its own: the strings and their counts (read_run's form)."""
    with tf.io.gfile.GFile(path, 'wb') as f:
        f.write(_pickled(counts))


def read_run(path: str, start: int = 0, size: Optional[int] = None
             ) -> Tuple[List[bytes], List[int]]:
    """The strings of a run of this job's own and their counts: the file written by write_run,
    or ``size`` bytes at ``start`` of one written by write_runs (one request)."""
    if size is None:
        with tf.io.gfile.GFile(path, 'rb') as f:
            return pickle.loads(f.read())
    return pickle.loads(local_copy.read_range(path, start, start + size))


def _sum_runs(shard_runs: Tuple[int, Iterable[RunPlace]]) -> Tuple[int, Dict[bytes, int]]:
    """(shard, where its runs lie) -> (shard, {string: total count})."""
    shard, places = shard_runs
    total: Dict[bytes, int] = {}
    for path, start, size in places:
        run = dict(zip(*read_run(path, start, size)))
        # Only the strings of both need a sum in Python; the rest merge at C speed.
        for key in run.keys() & total.keys():
            run[key] += total[key]
        total.update(run)
    return shard, total


def _storable(key: bytes) -> bool:
    return bool(key) and b'\n' not in key and b'\r' not in key


def _top(keys: List[bytes], counts: np.ndarray, top_k: int) -> List[Tuple[bytes, int]]:
    """The top_k best of distinct strings and their counts, best first: by count, equal counts
    in reverse byte order. The cut (the top_k-th count) comes from numpy; only the strings
    above it (fewer than top_k) are sorted, and the greatest of those at it picked."""
    if not len(counts):
        return []
    cut = (int(np.partition(counts, len(counts) - top_k)[len(counts) - top_k])
           if len(counts) > top_k else int(counts.min()))
    over = np.flatnonzero(counts > cut)
    above = sorted(zip(counts[over].tolist(), [keys[i] for i in over.tolist()]), reverse=True)
    at_cut = heapq.nlargest(top_k - len(above),
                            [keys[i] for i in np.flatnonzero(counts == cut).tolist()])
    return [(key, count) for count, key in above] + [(key, cut) for key in at_cut]


def _shard_candidates(shard_total: Tuple[int, Dict[bytes, int]], top_k: int,
                      threshold: int) -> List[Tuple[bytes, int]]:
    """A shard's strings that may be in the vocabulary: its own top_k at the threshold, best
    first."""
    _, total = shard_total
    keys = list(total)
    counts = np.fromiter(total.values(), np.int64, len(total))
    kept = [i for i in np.flatnonzero(counts >= threshold).tolist() if _storable(keys[i])]
    return _top([keys[i] for i in kept], counts[kept], top_k)


def _write_candidates(shard_total: Tuple[int, Dict[bytes, int]], top_k: int, threshold: int,
                      candidate_dir: str) -> str:
    """A shard's sums -> the path of a file of its candidates, best first (write_run's form)."""
    shard, _ = shard_total
    best = _shard_candidates(shard_total, top_k, threshold)
    tf.io.gfile.makedirs(candidate_dir)
    path = os.path.join(candidate_dir, f'{shard:05d}-{uuid.uuid4().hex}.best')
    write_run(path, dict(best))  # the strings of one shard are distinct; a dict keeps order
    return path


def fold_best(paths: Iterable[str], top_k: int) -> List[Tuple[bytes, int]]:
    """The top_k best of the candidate files at ``paths``, best first, in two reads of the
    files, holding one file at a time besides at most top_k counts, then at most 2 x top_k
    strings.

    The first read finds the cut, the top_k-th largest count of all the files (numpy, no
    Python comparison per string). The second keeps the strings counted at least that, and
    ``_top`` picks the best of them (trimming on the way whenever they pass 2 x top_k: many
    strings may share the cut's count)."""
    paths = sorted(paths)  # any order gives the same result; sorted, the same work
    best_counts = np.zeros(0, np.int64)
    for path in paths:
        _, counts = read_run(path)
        best_counts = np.concatenate([best_counts, np.asarray(counts, np.int64)])
        if len(best_counts) > top_k:
            best_counts = np.partition(best_counts, len(best_counts) - top_k)[-top_k:]
    if not len(best_counts):
        return []
    cut = int(best_counts.min())
    kept_keys: List[bytes] = []
    kept_counts: List[int] = []
    for path in paths:
        keys, counts = read_run(path)
        for i in np.flatnonzero(np.asarray(counts, np.int64) >= cut).tolist():
            kept_keys.append(keys[i])
            kept_counts.append(counts[i])
        if len(kept_keys) > 2 * top_k:
            best = _top(kept_keys, np.asarray(kept_counts, np.int64), top_k)
            kept_keys, kept_counts = [k for k, _ in best], [c for _, c in best]
    return _top(kept_keys, np.asarray(kept_counts, np.int64), top_k)


class _WriteVocabulary(beam.DoFn):
    """The paths of every shard's candidate file -> the vocabulary file's path."""

    def __init__(self, filename: str, base_dir: str, top_k: int):
        self._filename, self._base_dir, self._top_k = filename, base_dir, top_k

    def process(self, paths: List[str]):
        best = fold_best(paths, self._top_k)
        tf.io.gfile.makedirs(self._base_dir)  # tf.Transform's own, unique to this analyzer
        path = os.path.join(self._base_dir, self._filename)
        with tf.io.gfile.GFile(path, 'wb') as f:
            f.write(b''.join(key + b'\n' for key, _ in best))
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
        run_dir = os.path.join(base_dir, f'{self._filename}_runs')
        candidate_dir = os.path.join(base_dir, f'{self._filename}_best')
        return (batches
                | 'CountInBundles' >> beam.ParDo(
                    _CountInBundle(self._shards, self._max_keys, run_dir))
                | 'RunsPerShard' >> beam.GroupByKey()
                | 'SumPerShard' >> beam.Map(_sum_runs)
                | 'TopPerShard' >> beam.Map(_write_candidates, self._top_k, self._threshold,
                                            candidate_dir)
                | 'CandidateFiles' >> beam.combiners.ToList()
                | 'Write' >> beam.ParDo(_WriteVocabulary(self._filename, base_dir,
                                                         self._top_k)))
