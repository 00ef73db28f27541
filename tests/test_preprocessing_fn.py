"""The preprocessing_fn analysed and applied by tf.Transform on a few in-memory rows."""

import dataclasses
import tempfile

import numpy as np
import pytest
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam

from transforms import schema
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
        ROWS, dataclasses.replace(config, truncate=schema.TRUNCATE_KEEP_END))
    tokens = ['bad', 'movie', 'not', 'good']
    assert start['a:2']['token_ids'].tolist() == _ids(tokens[:2], vocab_s, 2)
    assert end['a:2']['token_ids'].tolist() == _ids(tokens[-2:], vocab_e, 2)
    assert start['a:2']['num_tokens'] == end['a:2']['num_tokens'] == 4


def test_config_rejects_impossible_values():
    with pytest.raises(ValueError):
        TransformConfig(num_oov_buckets=0)
    with pytest.raises(ValueError):
        TransformConfig(truncate='middle')


