"""tf.data input from the preprocess job's TFRecords."""

import os
from typing import Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from transforms import features


def split_files(data_dir: str, split: str) -> list:
    files = sorted(tf.io.gfile.glob(os.path.join(data_dir, f'{split}-*{features.TFRECORD_SUFFIX}')))
    if not files:
        raise FileNotFoundError(f'no {split}-*{features.TFRECORD_SUFFIX} under {data_dir}')
    return files


def has_split(data_dir: str, split: str) -> bool:
    return bool(tf.io.gfile.glob(os.path.join(data_dir, f'{split}-*{features.TFRECORD_SUFFIX}')))


def token_id_batches(data_dir: str, split: str, batch_size: int = 1024):
    """Yields the ``token_ids`` of a split as numpy arrays [batch, max_tokens], read once
    (not cached: the unlabeled split can be large)."""
    spec = tft.TFTransformOutput(data_dir).transformed_feature_spec()
    key = features.TOKEN_IDS_KEY
    ds = (tf.data.TFRecordDataset(split_files(data_dir, split), compression_type='GZIP')
          .batch(batch_size)
          .map(lambda x: tf.io.parse_example(x, {key: spec[key]})[key],
               num_parallel_calls=tf.data.AUTOTUNE)
          .prefetch(2))
    yield from ds.as_numpy_iterator()


def model_keys(data_dir: str) -> tuple:
    """The transformed features the network takes: token ids, and n-gram ids when written."""
    spec = tft.TFTransformOutput(data_dir).transformed_feature_spec()
    return tuple(k for k in (features.TOKEN_IDS_KEY, features.NGRAM_IDS_KEY) if k in spec)


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
    spec = {k: full[k] for k in (features.ID_KEY, features.LABEL_KEY, *keys)}

    def split_up(f):
        # A row of a VarLenFeature holds its values in order from column 0.
        x = {k: f[k].values if isinstance(f[k], tf.SparseTensor) else f[k] for k in keys}
        label = f[features.LABEL_KEY]
        return (f[features.ID_KEY], x, label) if with_ids else (x, label)

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


def ngram_ratios(dataset: tf.data.Dataset, num_ngrams: int, alpha: float = 1.0) -> np.ndarray:
    """Naive-Bayes log-count ratios log((p/|p|)/(q/|q|)) per n-gram id over a labelled
    (features, label) dataset of binary bags; index 0 (padding) gets 0."""
    counts = np.zeros((2, num_ngrams + 1))
    for x, label in dataset.as_numpy_iterator():
        ids = x[features.NGRAM_IDS_KEY]
        for cls in (0, 1):
            rows = ids[label == cls]
            counts[cls] += np.bincount(rows.ravel(), minlength=num_ngrams + 1)
    return log_count_ratios(counts[1], counts[0], alpha)


def log_count_ratios(positive: np.ndarray, negative: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Per id, from its counts among positive and negative reviews (index 0, padding, is
    not counted): log((p/|p|)/(q/|q|)) with p, q the counts plus ``alpha``; index 0 gets 0."""
    p, q = positive[1:] + alpha, negative[1:] + alpha
    return np.concatenate([[0.0], np.log((p / p.sum()) / (q / q.sum()))]).astype('float32')


def id_space(data_dir: str, num_oov_buckets: int) -> Tuple[int, int]:
    """(number of distinct token ids: padding + vocabulary + OOV buckets, max_tokens)."""
    output = tft.TFTransformOutput(data_dir)
    size = output.vocabulary_size_by_name(features.VOCAB_NAME)
    spec = output.transformed_feature_spec()[features.TOKEN_IDS_KEY]
    return 1 + size + num_oov_buckets, spec.shape[0]


def ngram_space(data_dir: str) -> int:
    """The number of n-gram ids (the n-gram vocabulary's size), 0 when none were written."""
    output = tft.TFTransformOutput(data_dir)
    if features.NGRAM_IDS_KEY not in output.transformed_feature_spec():
        return 0
    return output.vocabulary_size_by_name(features.NGRAM_VOCAB_NAME)
