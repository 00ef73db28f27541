"""tf.data input from the preprocess job's TFRecords."""

import os
from typing import Dict, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from scipy import sparse

from transforms import features, schema

# In-memory training data: ({input name: array [reviews, ...]}, labels [reviews]).
Arrays = Tuple[Dict[str, np.ndarray], np.ndarray]


def split_files(data_dir: str, split: str) -> list:
    files = sorted(tf.io.gfile.glob(os.path.join(data_dir, f'{split}-*{schema.TFRECORD_SUFFIX}')))
    if not files:
        raise FileNotFoundError(f'no {split}-*{schema.TFRECORD_SUFFIX} under {data_dir}')
    return files


def has_split(data_dir: str, split: str) -> bool:
    return bool(tf.io.gfile.glob(os.path.join(data_dir, f'{split}-*{schema.TFRECORD_SUFFIX}')))


def token_id_batches(data_dir: str, split: str, batch_size: int = 1024):
    """Yields the ``token_ids`` of a split as numpy arrays [batch, max_tokens], read once
    (not cached: the unlabeled split can be large)."""
    spec = tft.TFTransformOutput(data_dir).transformed_feature_spec()
    key = schema.TOKEN_IDS_KEY
    ds = (tf.data.TFRecordDataset(split_files(data_dir, split), compression_type='GZIP')
          .batch(batch_size)
          .map(lambda x: tf.io.parse_example(x, {key: spec[key]})[key],
               num_parallel_calls=tf.data.AUTOTUNE)
          .prefetch(2))
    yield from ds.as_numpy_iterator()


def model_keys(data_dir: str) -> tuple:
    """The transformed features the network takes: token ids, and n-gram ids when written."""
    spec = tft.TFTransformOutput(data_dir).transformed_feature_spec()
    return tuple(k for k in (schema.TOKEN_IDS_KEY, schema.NGRAM_IDS_KEY) if k in spec)


def make_dataset(data_dir: str, split: str, batch_size: int, shuffle: bool = False,
                 shuffle_buffer: int = 25000, seed: int = 0,
                 with_ids: bool = False, num_examples: int = None,
                 keys: tuple = None, cache: bool = True) -> tf.data.Dataset:
    """({feature: [batch, ...]}, label [batch]) batches, or (ids, {feature: ...}, label).

    The features are ``keys`` (default: every one of ``model_keys``): ``token_ids``
    [batch, max_tokens] and ``ngram_ids`` [batch, longest in the batch], 0-padded.
    Records are parsed once, a thousand at a time, and the parsed tensors cached
    in memory (20k reviews x 400 ids take 64 MB), so later epochs only shuffle and
    batch: on a 2-core machine re-parsing every epoch competes with the model for
    the same cores. With ``num_examples`` (from the preprocess manifest) the
    dataset declares its length, so Keras shows progress and knows where an epoch ends.
    """
    keys = tuple(keys or model_keys(data_dir))
    full = tft.TFTransformOutput(data_dir).transformed_feature_spec()
    carried = tuple(c.name for c in features.CARRIED_BY_TRANSFORM)  # the id and the label
    spec = {k: full[k] for k in (*carried, *keys)}

    def split_up(f):
        # A row of a VarLenFeature holds its values in order from column 0.
        x = {k: f[k].values if isinstance(f[k], tf.SparseTensor) else f[k] for k in keys}
        label = f[schema.LABEL_KEY]
        return (f[schema.ID_KEY], x, label) if with_ids else (x, label)

    ds = (tf.data.TFRecordDataset(split_files(data_dir, split), compression_type='GZIP',
                                  num_parallel_reads=tf.data.AUTOTUNE)
          .batch(1024)
          .map(lambda x: tf.io.parse_example(x, spec), num_parallel_calls=tf.data.AUTOTUNE)
          .unbatch()
          .map(split_up))
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.padded_batch(batch_size)
    if num_examples is not None:
        ds = ds.apply(tf.data.experimental.assert_cardinality(-(-num_examples // batch_size)))
    return ds.prefetch(tf.data.AUTOTUNE)


def log_count_ratios(positive: np.ndarray, negative: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Per id, from its counts among positive and negative reviews (index 0, padding, is
    not counted): log((p/|p|)/(q/|q|)) with p, q the counts plus ``alpha``; index 0 gets 0."""
    p, q = positive[1:] + alpha, negative[1:] + alpha
    return np.concatenate([[0.0], np.log((p / p.sum()) / (q / q.sum()))]).astype('float32')


def id_space(data_dir: str, num_oov_buckets: int) -> Tuple[int, int]:
    """(number of distinct token ids: padding + vocabulary + OOV buckets, max_tokens)."""
    output = tft.TFTransformOutput(data_dir)
    size = output.vocabulary_size_by_name(schema.VOCAB_NAME)
    spec = output.transformed_feature_spec()[schema.TOKEN_IDS_KEY]
    return 1 + size + num_oov_buckets, spec.shape[0]


def ngram_space(data_dir: str) -> int:
    """The number of n-gram ids (the n-gram vocabulary's size), 0 when none were written."""
    output = tft.TFTransformOutput(data_dir)
    if schema.NGRAM_IDS_KEY not in output.transformed_feature_spec():
        return 0
    return output.vocabulary_size_by_name(schema.NGRAM_VOCAB_NAME)


def token_arrays(data_dir: str, split: str) -> Arrays:
    """A split's token ids and labels, read once into memory."""
    batches = list(make_dataset(data_dir, split, 1024, cache=False,
                                keys=(schema.TOKEN_IDS_KEY,)).as_numpy_iterator())
    token_ids = np.concatenate([x[schema.TOKEN_IDS_KEY] for x, _ in batches])
    labels = np.concatenate([y for _, y in batches]).astype('int64')
    return {schema.TOKEN_IDS_KEY: token_ids}, labels


def ngram_matrix(batches, num_ngrams: int) -> Tuple[sparse.csr_matrix, np.ndarray]:
    """A (features, label) dataset with ``ngram_ids``, or a list of its numpy batches ->
    (binary CSR [reviews, num_ngrams + 1], labels). Column 0 (padding) stays empty."""
    indptr, indices, labels = [0], [], []
    batches = batches.as_numpy_iterator() if hasattr(batches, 'as_numpy_iterator') else batches
    for x, label in batches:
        for row in x[schema.NGRAM_IDS_KEY]:
            ids = np.unique(row[row > 0])
            indices.append(ids)
            indptr.append(indptr[-1] + len(ids))
        labels.append(label)
    indices = np.concatenate(indices) if indices else np.zeros(0, 'int64')
    matrix = sparse.csr_matrix((np.ones(len(indices), 'float32'), indices, indptr),
                               shape=(len(indptr) - 1, num_ngrams + 1))
    return matrix, np.concatenate(labels).astype('int64')


def ngram_data(data_dir: str, split: str, num_ngrams: int) -> Tuple[sparse.csr_matrix,
                                                                      np.ndarray]:
    """A split's binary n-gram bags and labels: (CSR [reviews, num_ngrams + 1], labels)."""
    return ngram_matrix(make_dataset(data_dir, split, 512, cache=False,
                                     keys=(schema.NGRAM_IDS_KEY,)), num_ngrams)


def unlabeled_tokens_and_ngrams(data_dir: str, num_ngrams: int) -> Tuple[np.ndarray,
                                                                         sparse.csr_matrix]:
    """The unlabeled split's token ids [reviews, max_tokens] and binary n-gram bags, read
    once, in one order, so that row i of both is the same review."""
    batches = list(make_dataset(
        data_dir, schema.UNLABELED_PREFIX, 512, cache=False,
        keys=(schema.TOKEN_IDS_KEY, schema.NGRAM_IDS_KEY)).as_numpy_iterator())
    matrix, _ = ngram_matrix(batches, num_ngrams)
    return np.concatenate([x[schema.TOKEN_IDS_KEY] for x, _ in batches]), matrix
