"""The project's preprocessing_fn through tf.Transform's own test harness: analyse and
transform four in-memory reviews, and compare the transformed rows, the transformed
schema and both vocabulary files with what they must be."""

import numpy as np
import tensorflow as tf
from tensorflow_transform.beam import tft_unit
from tensorflow_transform.tf_metadata import dataset_metadata

from transforms import schema
from transforms.tft.preprocessing import TransformConfig, make_preprocessing_fn, raw_metadata

MAX_TOKENS = 6
CONFIG = TransformConfig(max_tokens=MAX_TOKENS, frequency_threshold=2, num_oov_buckets=1,
                         ngram_max=2, ngram_frequency_threshold=2)

# Cleaned tokens (lower case, HTML and ',' '.' dropped, '!' '?' kept):
#   a:1 good good good movie !          a:2 bad movie not good
#   a:3 the worst movies ? bad bad !    a:4 good movie movie
ROWS = [
    {'id': 'a:1', 'review': 'Good good GOOD movie!<br />', 'label': 1},
    {'id': 'a:2', 'review': 'Bad movie, not good.', 'label': 0},
    {'id': 'a:3', 'review': 'The worst movies? Bad, bad!', 'label': 0},
    {'id': 'a:4', 'review': 'Good movie, movie.', 'label': 1},
]

# Words seen at least twice, by falling count: good 5, movie 4, bad 3, ! 2. Ids: 1..4 (0 is
# padding), and 5 the one OOV bucket.
VOCAB = [b'good', b'movie', b'bad', b'!']
OOV = len(VOCAB) + 1
# 1- and 2-grams seen at least twice: good 5, movie 4, bad 3, then three with 2, in
# tf.Transform's order for equal counts (reverse byte order): 'good movie', 'good good', '!'.
NGRAM_VOCAB = [b'good', b'movie', b'bad', b'good movie', b'good good', b'!']


def _ngram_ids(*grams):
    return np.array([NGRAM_VOCAB.index(g.encode()) + 1 for g in grams], np.int64)


EXPECTED = [
    {'id': b'a:1', 'label': 1, 'token_ids': [1, 1, 1, 2, 4, 0], 'num_tokens': 5, 'num_oov': 0,
     # each known n-gram once (a binary bag), in order of first appearance
     'ngram_ids': _ngram_ids('good', 'good good', 'good movie', 'movie', '!')},
    {'id': b'a:2', 'label': 0, 'token_ids': [3, 2, OOV, 1, 0, 0], 'num_tokens': 4, 'num_oov': 1,
     'ngram_ids': _ngram_ids('bad', 'movie', 'good')},
    # seven tokens, cut to the first six; the, worst, movies and ? are out of vocabulary
    {'id': b'a:3', 'label': 0, 'token_ids': [OOV, OOV, OOV, OOV, 3, 3], 'num_tokens': 7,
     'num_oov': 4, 'ngram_ids': _ngram_ids('bad', '!')},
    {'id': b'a:4', 'label': 1, 'token_ids': [1, 2, 2, 0, 0, 0], 'num_tokens': 3, 'num_oov': 0,
     'ngram_ids': _ngram_ids('good', 'good movie', 'movie')},
]

EXPECTED_METADATA = dataset_metadata.DatasetMetadata.from_feature_spec({
    schema.ID_KEY: tf.io.FixedLenFeature([], tf.string),
    schema.LABEL_KEY: tf.io.FixedLenFeature([], tf.int64),
    schema.TOKEN_IDS_KEY: tf.io.FixedLenFeature([MAX_TOKENS], tf.int64),
    schema.NUM_TOKENS_KEY: tf.io.FixedLenFeature([], tf.int64),
    schema.NUM_OOV_KEY: tf.io.FixedLenFeature([], tf.int64),
    schema.NGRAM_IDS_KEY: tf.io.VarLenFeature(tf.int64),
})


class PreprocessingFnTest(tft_unit.TransformTestCase):

    def test_analyze_and_transform_ids_counts_ngrams_and_vocabularies(self):
        expected = [{k: np.asarray(v) if isinstance(v, list) else v for k, v in row.items()}
                    for row in EXPECTED]
        self.assertAnalyzeAndTransformResults(
            ROWS, raw_metadata(), make_preprocessing_fn(CONFIG),
            expected_data=expected, expected_metadata=EXPECTED_METADATA,
            expected_vocab_file_contents={schema.VOCAB_NAME: VOCAB,
                                          schema.NGRAM_VOCAB_NAME: NGRAM_VOCAB})
