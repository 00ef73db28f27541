"""The preprocessing_fn's options, each checked through a whole analyze-and-transform run."""

import tempfile

import pytest
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam

from tests.test_preprocessing_fn import ROWS, _analyze_and_transform, _ids
from transforms import schema
from transforms.tft.cleaning import CleaningConfig
from transforms.tft.preprocessing import TransformConfig, make_preprocessing_fn, raw_metadata

pytestmark = pytest.mark.e2e


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
    # --ngram-max 0: no n-gram feature at all.
    plain, _ = _analyze_and_transform(ROWS, TransformConfig(max_tokens=4, ngram_max=0))
    assert 'ngram_ids' not in plain['a:1']
