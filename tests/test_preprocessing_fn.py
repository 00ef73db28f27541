"""The preprocessing_fn analysed and applied by tf.Transform on a few in-memory rows."""

import dataclasses
import tempfile

import numpy as np
import pytest
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam

from transforms import features
from transforms.cleaning import CleaningConfig
from transforms.preprocessing import TransformConfig, make_preprocessing_fn, raw_metadata

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
    vocab_file = tft.TFTransformOutput(temp + '/out').vocabulary_file_by_name(features.VOCAB_NAME)
    with open(vocab_file, encoding='utf-8') as f:
        vocab = f.read().splitlines()
    return {r['id'].decode(): r for r in data}, vocab


def _ids(tokens, vocab, length):
    oov = len(vocab) + 1
    ids = [vocab.index(t) + 1 if t in vocab else oov for t in tokens]
    return ids[:length] + [0] * (length - len(ids))


def test_ids_follow_the_vocabulary_with_padding_and_oov():
    config = TransformConfig(max_tokens=6, frequency_threshold=2)
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


def test_truncation_keeps_the_chosen_end():
    config = TransformConfig(max_tokens=2, frequency_threshold=1)
    start, vocab_s = _analyze_and_transform(ROWS, config)
    end, vocab_e = _analyze_and_transform(
        ROWS, dataclasses.replace(config, truncate=features.TRUNCATE_KEEP_END))
    tokens = ['bad', 'movie', 'not', 'good']
    assert start['a:2']['token_ids'].tolist() == _ids(tokens[:2], vocab_s, 2)
    assert end['a:2']['token_ids'].tolist() == _ids(tokens[-2:], vocab_e, 2)
    assert start['a:2']['num_tokens'] == end['a:2']['num_tokens'] == 4


@pytest.mark.e2e  # three whole analyze-and-transform runs
def test_stopwords_and_lemmas_change_the_ids():
    plain, _ = _analyze_and_transform(ROWS, TransformConfig(max_tokens=8, frequency_threshold=1))
    cleaned, vocab = _analyze_and_transform(ROWS, TransformConfig(
        max_tokens=8, frequency_threshold=1,
        cleaning=CleaningConfig(remove_stopwords=True, lemmatize=True)))
    # 'The worst movies? Bad, bad!': 'the' dropped; worst -> bad, movies -> movie.
    assert plain['a:3']['num_tokens'] == 7
    assert cleaned['a:3']['num_tokens'] == 6
    assert cleaned['a:3']['token_ids'].tolist() == _ids(
        ['bad', 'movie', '?', 'bad', 'bad', '!'], vocab, 8)
    assert 'the' not in vocab and 'movies' not in vocab and 'worst' not in vocab


def test_config_rejects_impossible_values():
    with pytest.raises(ValueError):
        TransformConfig(num_oov_buckets=0)
    with pytest.raises(ValueError):
        TransformConfig(truncate='middle')


@pytest.mark.e2e  # two whole analyze-and-transform runs
def test_ngram_ids_are_the_distinct_known_ngrams():
    from tensorflow_transform import TFTransformOutput  # noqa: F401  (vocab read below)
    temp = tempfile.mkdtemp()
    config = TransformConfig(max_tokens=4, frequency_threshold=1, ngram_max=2,
                             ngram_frequency_threshold=2)
    with tft_beam.Context(temp_dir=temp):
        (data, _), transform_fn = ((ROWS, raw_metadata()) | tft_beam.AnalyzeAndTransformDataset(
            make_preprocessing_fn(config)))
        _ = transform_fn | tft_beam.WriteTransformFn(temp + '/out')
    path = tft.TFTransformOutput(temp + '/out').vocabulary_file_by_name(features.NGRAM_VOCAB_NAME)
    grams = open(path, encoding='utf-8').read().splitlines()
    out = {r['id'].decode(): r for r in data}
    # n-grams seen at least twice: good (4), bad (3), movie (3), ! (2), 'good good' (2).
    assert sorted(grams) == ['!', 'bad', 'good', 'good good', 'movie']
    names = lambda row: sorted(grams[i - 1] for i in out[row]['ngram_ids'])
    assert names('a:1') == ['!', 'good', 'good good', 'movie']   # each once: a binary bag
    assert names('a:2') == ['bad', 'good', 'movie']
    assert names('a:3') == ['!', 'bad']
    # --ngram-max 0: no n-gram feature at all.
    plain, _ = _analyze_and_transform(ROWS, TransformConfig(max_tokens=4, ngram_max=0))
    assert 'ngram_ids' not in plain['a:1']
