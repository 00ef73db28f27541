"""The preprocessing_fn analysed and applied by tf.Transform: on a few in-memory rows, each
option through a whole analyze-and-transform run, and through tf.Transform's own test harness
(the transformed rows, the transformed schema and both vocabulary files as they must be)."""

import tempfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.beam import tft_unit
from tensorflow_transform.tf_metadata import dataset_metadata

from transforms import schema
from transforms.tft.cleaning import CleaningConfig
from transforms.tft.preprocessing import TransformConfig, make_preprocessing_fn, raw_metadata

ROWS = [
    {'id': 'a:1', 'review': 'Good good GOOD movie!<br />', 'label': 1},
    {'id': 'a:2', 'review': 'Bad movie, not good.', 'label': 0},
    {'id': 'a:3', 'review': 'The worst movies? Bad, bad!', 'label': 0},
]


def _analyze_and_transform(rows, config):
    """-> ({id: transformed row}, vocabulary list in id order starting at id 1)."""
    temp = tempfile.mkdtemp()
    with tft_beam.Context(temp_dir=temp):
        (data, _), transform_fn = ((rows, raw_metadata()) | tft_beam.AnalyzeAndTransformDataset(
            make_preprocessing_fn(config)))
        _ = transform_fn | tft_beam.WriteTransformFn(temp + '/out')
    vocab_file = tft.TFTransformOutput(temp + '/out').vocabulary_file_by_name(schema.VOCAB_NAME)
    with open(vocab_file, encoding='utf-8') as f:
        vocab = f.read().splitlines()
    return {r['id'].decode(): r for r in data}, vocab


def _ids(tokens, vocab, length):
    oov = len(vocab) + 1
    ids = [vocab.index(t) + 1 if t in vocab else oov for t in tokens]
    return ids[:length] + [0] * (length - len(ids))


def test_ids_follow_the_vocabulary_with_padding_and_oov():
    config = TransformConfig(max_tokens=6, frequency_threshold=2, ngram_max=0)
    out, vocab = _analyze_and_transform(ROWS, config)
    # Train-split frequencies: good 4, bad 3, movie 3, ! 2; the rest appear once.
    assert vocab[0] == 'good' and sorted(vocab) == ['!', 'bad', 'good', 'movie']
    np.testing.assert_array_equal(
        out['a:1']['token_ids'], _ids(['good', 'good', 'good', 'movie', '!'], vocab, 6))
    np.testing.assert_array_equal(
        out['a:2']['token_ids'], _ids(['bad', 'movie', 'not', 'good'], vocab, 6))
    assert out['a:2']['token_ids'][2] == len(vocab) + 1   # 'not' is out of vocabulary
    # the, worst, movies and ? are out of vocabulary
    assert out['a:3']['num_tokens'] == 7 and out['a:3']['num_oov'] == 4
    assert out['a:1']['label'] == 1 and out['a:2']['label'] == 0
    # the first six of a:3's seven tokens (the default end to keep); --ngram-max 0: no n-grams
    assert out['a:3']['token_ids'].tolist() == _ids(
        ['the', 'worst', 'movies', '?', 'bad', 'bad'], vocab, 6)
    assert 'ngram_ids' not in out['a:1']


def test_config_rejects_impossible_values():
    with pytest.raises(ValueError):
        TransformConfig(num_oov_buckets=0)
    with pytest.raises(ValueError):
        TransformConfig(truncate='middle')


# --- Each option through a whole run



@pytest.mark.e2e  # a whole analyze-and-transform run per option (seconds each)
def test_truncation_keeps_the_chosen_end():
    end, vocab = _analyze_and_transform(ROWS, TransformConfig(
        max_tokens=2, frequency_threshold=1, truncate=schema.TRUNCATE_KEEP_END))
    assert end['a:2']['token_ids'].tolist() == _ids(['not', 'good'], vocab, 2)
    assert end['a:2']['num_tokens'] == 4


@pytest.mark.e2e  # a whole analyze-and-transform run per option (seconds each)
def test_stopwords_and_lemmas_change_the_ids():
    cleaned, vocab = _analyze_and_transform(ROWS, TransformConfig(
        max_tokens=8, frequency_threshold=1,
        cleaning=CleaningConfig(remove_stopwords=True, lemmatize=True)))
    # 'The worst movies? Bad, bad!' (seven tokens plain): 'the' dropped; worst -> bad,
    # movies -> movie.
    assert cleaned['a:3']['num_tokens'] == 6
    assert cleaned['a:3']['token_ids'].tolist() == _ids(
        ['bad', 'movie', '?', 'bad', 'bad', '!'], vocab, 8)
    assert 'the' not in vocab and 'movies' not in vocab and 'worst' not in vocab


@pytest.mark.e2e  # a whole analyze-and-transform run per option (seconds each)
def test_ngram_ids_are_the_distinct_known_ngrams():
    temp = tempfile.mkdtemp()
    config = TransformConfig(max_tokens=4, frequency_threshold=1, ngram_max=2,
                             ngram_frequency_threshold=2)
    with tft_beam.Context(temp_dir=temp):
        (data, _), transform_fn = ((ROWS, raw_metadata()) | tft_beam.AnalyzeAndTransformDataset(
            make_preprocessing_fn(config)))
        _ = transform_fn | tft_beam.WriteTransformFn(temp + '/out')
    path = tft.TFTransformOutput(temp + '/out').vocabulary_file_by_name(schema.NGRAM_VOCAB_NAME)
    grams = open(path, encoding='utf-8').read().splitlines()
    out = {r['id'].decode(): r for r in data}
    # n-grams seen at least twice: good (4), bad (3), movie (3), ! (2), 'good good' (2).
    assert sorted(grams) == ['!', 'bad', 'good', 'good good', 'movie']
    names = lambda row: sorted(grams[i - 1] for i in out[row]['ngram_ids'])
    assert names('a:1') == ['!', 'good', 'good good', 'movie']   # each once: a binary bag
    assert names('a:2') == ['bad', 'good', 'movie']
    assert names('a:3') == ['!', 'bad']


# --- tf.Transform's own test harness: analyse and transform four in-memory reviews

HARNESS_MAX_TOKENS = 6
HARNESS_CONFIG = TransformConfig(max_tokens=HARNESS_MAX_TOKENS, frequency_threshold=2,
                                 num_oov_buckets=1, ngram_max=2,
                                 ngram_frequency_threshold=2)

# Cleaned tokens (lower case, HTML and ',' '.' dropped, '!' '?' kept):
#   a:1 good good good movie !          a:2 bad movie not good
#   a:3 the worst movies ? bad bad !    a:4 good movie movie
HARNESS_ROWS = [
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


HARNESS_EXPECTED = [
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

HARNESS_METADATA = dataset_metadata.DatasetMetadata.from_feature_spec({
    schema.ID_KEY: tf.io.FixedLenFeature([], tf.string),
    schema.LABEL_KEY: tf.io.FixedLenFeature([], tf.int64),
    schema.TOKEN_IDS_KEY: tf.io.FixedLenFeature([HARNESS_MAX_TOKENS], tf.int64),
    schema.NUM_TOKENS_KEY: tf.io.FixedLenFeature([], tf.int64),
    schema.NUM_OOV_KEY: tf.io.FixedLenFeature([], tf.int64),
    schema.NGRAM_IDS_KEY: tf.io.VarLenFeature(tf.int64),
})


class PreprocessingFnTest(tft_unit.TransformTestCase):

    def test_analyze_and_transform_ids_counts_ngrams_and_vocabularies(self):
        expected = [{k: np.asarray(v) if isinstance(v, list) else v for k, v in row.items()}
                    for row in HARNESS_EXPECTED]
        self.assertAnalyzeAndTransformResults(
            HARNESS_ROWS, raw_metadata(), make_preprocessing_fn(HARNESS_CONFIG),
            expected_data=expected, expected_metadata=HARNESS_METADATA,
            expected_vocab_file_contents={schema.VOCAB_NAME: VOCAB,
                                          schema.NGRAM_VOCAB_NAME: NGRAM_VOCAB})
