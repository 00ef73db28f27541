"""The LSTM network and its n-gram branch: shapes, masked padding, the bag as naive-Bayes-scaled
logistic regression."""

import numpy as np
import pytest

from trainer.config import ModelConfig
from trainer.model import build_model

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize('pooling', ['last', 'mean', 'max_mean'])
def test_model_shapes_and_padding_is_masked(pooling):
    network = build_model(ModelConfig(embedding_dim=4, lstm_units=3, dense_units=4,
                                      pooling=pooling), vocab_ids=20, max_tokens=6, ngram_ids=9)
    model = network.model
    assert model.output_shape == (None, 1)
    ids = {'token_ids': np.array([[3, 4, 5, 0, 0, 0], [7, 0, 0, 0, 0, 0]], dtype='int64'),
           'ngram_ids': np.array([[1, 5, 9, 0], [2, 0, 0, 0]], dtype='int64')}
    network.ngram_bag.kernel.assign(np.linspace(-1, 1, 10, dtype='float32'))
    before = model.predict(ids, verbose=0)
    embedding = network.embedding
    weights = embedding.get_weights()[0]
    weights[0] = 50.0  # the padding row: masked positions must not matter
    embedding.set_weights([weights])
    np.testing.assert_allclose(model.predict(ids, verbose=0), before, atol=1e-6)
    bag = network.ngram_bag
    kernel = bag.kernel.numpy()
    kernel[0] = 50.0  # n-gram padding must not matter either
    bag.kernel.assign(kernel)
    np.testing.assert_allclose(model.predict(ids, verbose=0), before, atol=1e-6)
    assert ((before > 0) & (before < 1)).all()


def test_ngram_branch_is_off_without_ngram_ids_or_by_flag():
    for config, ngram_ids in ((ModelConfig(), 0), (ModelConfig(ngram_branch=False), 9)):
        network = build_model(config, vocab_ids=20, max_tokens=6, ngram_ids=ngram_ids)
        assert list(network.model.input) == ['token_ids']
        assert network.ngram_bag is None and network.fusion is None
        assert 'ngram_bag' not in [layer.name for layer in network.model.layers]


def test_ngram_bag_is_naive_bayes_scaled_logistic_regression():
    from trainer.model import NgramBag
    ids = np.array([[1, 2, 0], [3, 0, 0]], dtype='int64')
    bag = NgramBag(3)
    bag.build(ids.shape)
    assert not bag.trainable_weights  # fitted by the trainer, never by gradient descent
    bag.set_weights_and_ratios(np.array([9.0, 1.0, -2.0, 4.0], dtype='float32'),
                               np.array([9.0, 0.5, 0.5, 0.25], dtype='float32'))
    # sum over the review's n-grams of weight * ratio; padding (0) counts nothing.
    np.testing.assert_allclose(bag(ids).numpy(), [[0.5 - 1.0], [1.0]], rtol=1e-6)
