"""The stacked recipe's fitted parts: the n-gram regression (NB-LR) and the fusion.

Trained jointly by gradient descent, the n-gram branch's 600k weights fit the
train split within an epoch, the LSTM then sees almost no error left to learn
from, and the sum reads worse on unseen movies than either part fitted on its
own (benchmarks/README.md). So the stacked recipe fits the n-gram weights as a
convex L2-regularised logistic regression on binary n-grams scaled by
naive-Bayes log-count ratios (Wang & Manning 2012's NB-LR), trains the LSTM
alone (on the labels, and on unlabeled reviews labelled by that regression
when there are some), and then fits the two weights and the bias that combine
the two logits on the eval split, which neither branch was trained on. All of it ends up as weights
of one Keras network (``ngram_bag`` and ``fusion``), exported as usual.
"""

from typing import Dict, Tuple

import keras
import numpy as np
import tensorflow as tf
from scipy import sparse

from trainer.data import log_count_ratios


def nb_ratios(matrix: sparse.csr_matrix, labels: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Naive-Bayes log-count ratios log((p/|p|)/(q/|q|)) per column of binary bags (p, q:
    the positive and negative reviews' counts plus ``alpha``); column 0 (padding) gets 0."""
    return log_count_ratios(np.asarray(matrix[labels == 1].sum(axis=0)).ravel(),
                            np.asarray(matrix[labels == 0].sum(axis=0)).ravel(), alpha)


def fit_ngram_weights(matrix: sparse.csr_matrix, labels: np.ndarray, ratios: np.ndarray,
                      c: float) -> Tuple[np.ndarray, Dict]:
    """Logistic regression (inverse L2 strength ``c``) on the columns scaled by ``ratios``
    -> (weights per n-gram id, float32 [num_ngrams + 1], summary). The network leaves the
    intercept to the fusion; the summary keeps it for labelling unlabeled reviews."""
    from sklearn.linear_model import LogisticRegression
    if len(np.unique(labels)) < 2:
        raise ValueError('the train split has one class only: the n-gram regression needs both')
    scaled = matrix @ sparse.diags(ratios)
    regression = LogisticRegression(C=c, solver='liblinear', max_iter=2000).fit(scaled, labels)
    weights = regression.coef_.ravel().astype('float32')
    weights[0] = 0.0
    train_accuracy = float((regression.predict(scaled) == labels).mean())
    return weights, {'c': c, 'nonzero_ngrams': int((matrix.getnnz(axis=0) > 0).sum()),
                     'train_accuracy': round(train_accuracy, 6),
                     'intercept': float(regression.intercept_[0])}


def branch_logits(branches: keras.Model, dataset: tf.data.Dataset) -> Tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """(LSTM logits, n-gram logits, labels) over ``dataset``, from the network's two branches
    (``trainer.model.Network.branch_logits``)."""
    deep, wide, labels = [], [], []
    for x, label in dataset:
        d, w = branches(x, training=False)
        deep.append(np.reshape(d, -1))
        wide.append(np.reshape(w, -1))
        labels.append(label.numpy())
    return np.concatenate(deep), np.concatenate(wide), np.concatenate(labels).astype('int64')


def fit_fusion(deep: np.ndarray, wide: np.ndarray, labels: np.ndarray) -> Tuple[np.ndarray, float,
                                                                               Dict]:
    """Logistic regression of ``labels`` on the two logits -> (coefficients [2], intercept,
    summary with each branch's and the fusion's accuracy on these reviews, and the
    fusion's 5-fold cross-validated accuracy: the fair reading, since the same
    reviews fit it)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    if len(np.unique(labels)) < 2:
        raise ValueError('the eval split has one class only: the fusion needs both')
    both = np.stack([deep, wide], axis=1)
    fusion = LogisticRegression(C=1.0).fit(both, labels)
    folds = min(5, int(np.bincount(labels).min()))
    summary = {
        'lstm_accuracy': round(float(((deep > 0) == labels).mean()), 6),
        'ngram_accuracy': round(float(((wide + _best_offset(wide, labels) > 0) == labels).mean()), 6),
        'fused_accuracy': round(float((fusion.predict(both) == labels).mean()), 6),
        'logit_correlation': round(float(np.corrcoef(deep, wide)[0, 1]), 6),
        'coefficients': [round(float(v), 6) for v in fusion.coef_.ravel()],
        'intercept': round(float(fusion.intercept_[0]), 6),
    }
    if folds >= 2:
        summary['fused_accuracy_cv'] = round(float(cross_val_score(
            LogisticRegression(C=1.0), both, labels, cv=folds).mean()), 6)
    return fusion.coef_.ravel().astype('float32'), float(fusion.intercept_[0]), summary


def _best_offset(logits: np.ndarray, labels: np.ndarray) -> float:
    """The n-gram logit has no intercept of its own: read its accuracy with the one a
    1-D logistic regression gives it."""
    from sklearn.linear_model import LogisticRegression
    one = LogisticRegression(C=1.0).fit(logits.reshape(-1, 1), labels)
    return float(one.intercept_[0] / one.coef_[0, 0]) if one.coef_[0, 0] else 0.0
