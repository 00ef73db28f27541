"""The stacked recipe's pieces against scikit-learn: the n-gram matrix and regression, NB ratios,
the fusion."""

import numpy as np
import pytest

pytestmark = pytest.mark.e2e


def test_ngram_matrix_and_regression_match_scikit_learn_nb_lr():
    import tensorflow as tf
    from sklearn.linear_model import LogisticRegression
    from trainer import data, stacking
    ids = np.array([[1, 2, 2, 0], [1, 3, 0, 0], [3, 4, 0, 0], [2, 4, 1, 0], [4, 0, 0, 0]])
    labels = np.array([1, 1, 0, 1, 0])
    ds = tf.data.Dataset.from_tensor_slices(({'ngram_ids': ids}, labels)).batch(2)
    matrix, got_labels = data.ngram_matrix(ds, 5)
    expected = np.zeros((5, 6))
    for i, row in enumerate(ids):
        expected[i, row[row > 0]] = 1  # binary: the repeated 2 counts once
    np.testing.assert_array_equal(matrix.toarray(), expected)
    np.testing.assert_array_equal(got_labels, labels)
    ratios = stacking.nb_ratios(matrix, labels)
    # From the binary bags: presence counts (the repeated 2 counts once), 1 added to each.
    p, q = expected[labels == 1, 1:].sum(0) + 1, expected[labels == 0, 1:].sum(0) + 1
    np.testing.assert_allclose(stacking.nb_ratios(matrix, labels),
                               [0, *np.log((p / p.sum()) / (q / q.sum()))], rtol=1e-5)
    weights, summary = stacking.fit_ngram_weights(matrix, labels, ratios, c=2.0)
    reference = LogisticRegression(C=2.0, solver='liblinear').fit(
        expected @ np.diag(ratios), labels)
    assert weights[0] == 0 and summary['c'] == 2.0
    np.testing.assert_allclose(weights[1:], reference.coef_.ravel()[1:], rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError):
        stacking.fit_ngram_weights(matrix, np.ones(5, 'int64'), ratios, c=1.0)


def test_fusion_weighs_the_informative_logit():
    from trainer import stacking
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 2000)
    informative = (2 * labels - 1) + rng.normal(0, 1.0, 2000) + 3.0  # off-centre: no intercept
    noise = rng.normal(0, 1.0, 2000)
    coefficients, intercept, summary = stacking.fit_fusion(noise, informative, labels)
    assert coefficients[1] > 1.0 and abs(coefficients[0]) < 0.2 * coefficients[1]
    assert intercept < -2.0  # takes the offset away
    assert summary['fused_accuracy'] > 0.8 and summary['fused_accuracy_cv'] > 0.8
    assert summary['ngram_accuracy'] > 0.8 and summary['lstm_accuracy'] < 0.6


def test_nb_ratios_follow_the_labels():
    from scipy import sparse
    from trainer import stacking
    matrix = sparse.csr_matrix(np.array([[0, 1, 1, 0], [0, 1, 0, 1], [0, 0, 0, 1]], 'float32'))
    ratios = stacking.nb_ratios(matrix, np.array([1, 1, 0]))
    assert ratios[0] == 0 and ratios[1] > 0 and ratios[2] > 0 and ratios[3] < ratios[2]
