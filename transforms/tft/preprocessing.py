"""The tf.Transform preprocessing: raw review text -> fixed-length token ids.

Cleaning (``transforms.tft.cleaning``), the vocabulary and the id lookup all live in
this graph, so the transform_fn embedded in the exported model applies exactly
the training-time preprocessing to raw text at serving time.
"""

import dataclasses
from typing import Callable, Dict

import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform.tf_metadata import dataset_metadata

from transforms import features, schema
from transforms.tft.cleaning import CleaningConfig, tokenize
from transforms.tft.counting import count_vocabulary

def raw_metadata() -> dataset_metadata.DatasetMetadata:
    """What the preprocessing_fn reads: the declared raw columns (features.RAW_COLUMNS)."""
    return dataset_metadata.DatasetMetadata.from_feature_spec(features.raw_feature_spec())


@dataclasses.dataclass(frozen=True)
class TransformConfig:
    """Everything the preprocessing graph depends on; recorded in the manifest."""
    cleaning: CleaningConfig = CleaningConfig()
    max_tokens: int = schema.DEFAULT_MAX_TOKENS
    vocab_top_k: int = schema.DEFAULT_VOCAB_TOP_K
    frequency_threshold: int = schema.DEFAULT_FREQUENCY_THRESHOLD
    num_oov_buckets: int = schema.DEFAULT_NUM_OOV_BUCKETS
    truncate: str = schema.TRUNCATE_KEEP_START
    ngram_max: int = schema.DEFAULT_NGRAM_MAX
    ngram_vocab_top_k: int = schema.DEFAULT_NGRAM_VOCAB_TOP_K
    ngram_frequency_threshold: int = schema.DEFAULT_NGRAM_FREQUENCY_THRESHOLD

    def __post_init__(self):
        if self.ngram_max < 0:
            raise ValueError('ngram_max must be 0 (none) or more')
        if self.max_tokens < 1:
            raise ValueError('max_tokens must be at least 1')
        if self.num_oov_buckets < 1:
            raise ValueError('num_oov_buckets must be at least 1 (id 0 is padding)')
        if self.truncate not in (schema.TRUNCATE_KEEP_START, schema.TRUNCATE_KEEP_END):
            raise ValueError(f'truncate must be {schema.TRUNCATE_KEEP_START!r} '
                             f'or {schema.TRUNCATE_KEEP_END!r}')


def make_preprocessing_fn(config: TransformConfig) -> Callable[[Dict], Dict]:
    """Returns the ``preprocessing_fn`` for ``config``.

    Outputs per review: ``token_ids`` (int64 [max_tokens]; 0 is padding, 1..V the
    vocabulary by falling frequency, V+1.. the OOV buckets), ``num_tokens`` and
    ``num_oov`` (over the whole review, before truncation), and the id and label passed
    through (``features.CARRIED_BY_TRANSFORM``). With ``ngram_max`` > 0 also
    ``ngram_ids``: the distinct 1..ngram_max-grams of the whole review that are in the
    n-gram vocabulary, as ids 1..V (a binary bag of n-grams, variable length).
    """

    def preprocessing_fn(inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        tokens = tokenize(inputs[schema.REVIEW_KEY], config.cleaning)
        words = tokens.flat_values
        vocab = tft.vocabulary(
            words, top_k=config.vocab_top_k,
            frequency_threshold=config.frequency_threshold,
            vocab_filename=schema.VOCAB_NAME)
        ids = tft.apply_vocabulary(words, vocab, num_oov_buckets=config.num_oov_buckets)
        in_vocab = tft.apply_vocabulary(words, vocab, default_value=-1) >= 0
        ids = tokens.with_flat_values(ids + 1)
        if config.truncate == schema.TRUNCATE_KEEP_END:
            ids = ids[:, -config.max_tokens:]
        token_ids = ids.to_tensor(default_value=schema.PADDING_ID,
                                  shape=[None, config.max_tokens])
        oov = tokens.with_flat_values(tf.cast(tf.logical_not(in_vocab), tf.int64))
        outputs = {
            **{c.name: inputs[c.name] for c in features.CARRIED_BY_TRANSFORM},
            schema.TOKEN_IDS_KEY: token_ids,
            schema.NUM_TOKENS_KEY: tokens.row_lengths(),
            schema.NUM_OOV_KEY: tf.reduce_sum(oov, axis=1),
        }
        if config.ngram_max:
            outputs[schema.NGRAM_IDS_KEY] = _ngram_ids(tokens, config)
        return outputs

    return preprocessing_fn


# Row and id packed into one int64 so that tf.unique can drop repeats within a row.
_ROW_STRIDE = 1 << 32


def _ngram_ids(tokens: tf.RaggedTensor, config: TransformConfig) -> tf.SparseTensor:
    """Tokens [batch, None] -> distinct in-vocabulary n-gram ids (1..V) [batch, None]."""
    grams = tft.ngrams(tokens.to_sparse(), (1, config.ngram_max), schema.NGRAM_SEPARATOR)
    # Millions of distinct n-grams: counted per bundle in dictionaries (transforms.tft.counting).
    vocab = count_vocabulary(grams, top_k=config.ngram_vocab_top_k,
                             frequency_threshold=config.ngram_frequency_threshold,
                             vocab_filename=schema.NGRAM_VOCAB_NAME)
    ids = tft.apply_vocabulary(grams, vocab, default_value=-1).values
    rows = grams.indices[:, 0]
    known = ids >= 0
    keys, _ = tf.unique(tf.boolean_mask(rows, known) * _ROW_STRIDE + tf.boolean_mask(ids, known))
    return tf.RaggedTensor.from_value_rowids(
        keys % _ROW_STRIDE + 1, keys // _ROW_STRIDE,
        nrows=tf.cast(tokens.nrows(), tf.int64)).to_sparse()
