"""tf.data input from the preprocess job's TFRecords."""

import os
from typing import Tuple

import tensorflow as tf
import tensorflow_transform as tft

from transforms import features


def split_files(data_dir: str, split: str) -> list:
    files = sorted(tf.io.gfile.glob(os.path.join(data_dir, f'{split}-*{features.TFRECORD_SUFFIX}')))
    if not files:
        raise FileNotFoundError(f'no {split}-*{features.TFRECORD_SUFFIX} under {data_dir}')
    return files


def make_dataset(data_dir: str, split: str, batch_size: int, shuffle: bool = False,
                 shuffle_buffer: int = 25000, seed: int = 0,
                 with_ids: bool = False, num_examples: int = None) -> tf.data.Dataset:
    """(token_ids [batch, max_tokens], label [batch]) batches, or (ids, token_ids, label).

    Records are parsed once, a thousand at a time, and the parsed tensors cached
    in memory (20k reviews x 400 ids take 64 MB), so later epochs only shuffle and
    batch: on a 2-core machine re-parsing every epoch competes with the model for
    the same cores. With ``num_examples`` (from the preprocess manifest) the
    dataset declares its length, so Keras shows progress and knows where an epoch ends.
    """
    spec = tft.TFTransformOutput(data_dir).transformed_feature_spec()
    keys = (features.ID_KEY, features.TOKEN_IDS_KEY, features.LABEL_KEY) if with_ids else (
        features.TOKEN_IDS_KEY, features.LABEL_KEY)
    spec = {k: spec[k] for k in keys}
    ds = (tf.data.TFRecordDataset(split_files(data_dir, split), compression_type='GZIP',
                                  num_parallel_reads=tf.data.AUTOTUNE)
          .batch(1024)
          .map(lambda x: tf.io.parse_example(x, spec), num_parallel_calls=tf.data.AUTOTUNE)
          .map(lambda f: tuple(f[k] for k in keys))
          .unbatch()
          .cache())
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if num_examples is not None:
        ds = ds.apply(tf.data.experimental.assert_cardinality(-(-num_examples // batch_size)))
    return ds.prefetch(tf.data.AUTOTUNE)


def id_space(data_dir: str, num_oov_buckets: int) -> Tuple[int, int]:
    """(number of distinct token ids: padding + vocabulary + OOV buckets, max_tokens)."""
    output = tft.TFTransformOutput(data_dir)
    size = output.vocabulary_size_by_name(features.VOCAB_NAME)
    spec = output.transformed_feature_spec()[features.TOKEN_IDS_KEY]
    return 1 + size + num_oov_buckets, spec.shape[0]
