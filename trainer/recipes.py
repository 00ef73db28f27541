"""The training recipes: how the built network's weights get fitted, one function each.

A recipe takes the ``Network`` from ``trainer.model.build_model`` and the data, fits its
weights in place and returns a ``Fitted``: the Keras history of its gradient-descent part
and what it adds to the manifest. ``trainer.task.train`` picks one with ``recipe_name``
and does the rest (evaluation, export, manifest) the same for all; a new recipe is one
function here and one entry in ``RECIPES``.

- ``stacked``: n-gram regression (NB-LR), then the LSTM alone, then the fusion of
  their logits on the eval split (``trainer.stacking`` says why).
- ``lstm``: the LSTM alone, when there is no n-gram branch (no ``ngram_ids`` written, or
  ``--no-ngram-branch``).
"""

import dataclasses
import logging
import sys
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf
from scipy import sparse

from trainer import data, stacking
from trainer.config import ModelConfig
from trainer.data import Arrays
from trainer.model import Network
from trainer.timing import Clock
from transforms import schema
from transforms.errors import TrainError

_LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Inputs:
    """What every recipe trains from."""
    data_dir: str                    # the preprocess job's output folder
    config: ModelConfig
    counts: Mapping[str, int]        # reviews per split, from the preprocess manifest
    num_ngrams: int                  # size of the n-gram vocabulary; 0: no n-gram branch
    eval_ds: tf.data.Dataset         # (every network input, label) batches of the eval split
    callbacks: List[keras.callbacks.Callback]


@dataclasses.dataclass(frozen=True)
class Fitted:
    """What a recipe leaves besides the fitted weights."""
    history: Dict[str, List[float]]  # Keras History.history of the gradient-descent part
    stacking: Optional[Dict] = None  # the manifest's ``stacking`` block (stacked recipe only)
    # Seconds per part of the recipe, in the order they ran (the manifest's timings).
    timings: Dict[str, float] = dataclasses.field(default_factory=dict)
    # The parts whose exported weights learnt from the eval split (a refit): once there is
    # one, the eval split is training data and no figure on it may be read as validation.
    fitted_on_eval: Tuple[str, ...] = ()


def recipe_name(config: ModelConfig, num_ngrams: int) -> str:
    """``stacked`` when there is an n-gram branch to fit; else ``lstm``."""
    return 'stacked' if num_ngrams and config.ngram_branch else 'lstm'


def lstm(network: Network, inputs: Inputs) -> Fitted:
    """The LSTM alone, by gradient descent on the train split."""
    clock = Clock()
    with clock('lstm'):
        history = _fit(network, network.model,
                       data.token_arrays(inputs.data_dir, schema.TRAIN_PREFIX), inputs.eval_ds,
                       inputs)
    return Fitted(history=history, timings=clock.seconds)


def stacked(network: Network, inputs: Inputs) -> Fitted:
    """The n-gram regression first (with ``--distill-unlabeled`` its labels for the unlabeled
    split teach the LSTM), then the LSTM alone by gradient descent, then the fusion; with
    ``--refit-ngrams`` the n-gram regression again, on the train and eval splits."""
    config, num_ngrams = inputs.config, inputs.num_ngrams
    clock = Clock()
    lstm_alone = network.lstm_model(config)
    keys = tuple(lstm_alone.input.keys())
    with clock('ngram_regression'):
        train_ngrams = data.ngram_data(inputs.data_dir, schema.TRAIN_PREFIX, num_ngrams)
        summary = {'ngram_regression': _fit_ngrams(network, config, *train_ngrams)}
    distill = None
    if config.distill_unlabeled and data.has_split(inputs.data_dir, schema.UNLABELED_PREFIX):
        with clock('pseudo_labels'):
            train, distill = _pseudo_labelled(inputs.data_dir, network, num_ngrams,
                                              summary['ngram_regression']['intercept'])
        summary['distillation'] = distill
    else:
        train = data.token_arrays(inputs.data_dir, schema.TRAIN_PREFIX)
    eval_ds = inputs.eval_ds.map(lambda x, y: ({k: x[k] for k in keys}, y))
    with clock('lstm'):
        history = _fit(network, lstm_alone, train, eval_ds, inputs,
                       pseudo_labelled=distill['unlabeled_reviews'] if distill else 0)
    with clock('fusion'):
        summary['fusion'] = _fit_fusion(network, inputs.data_dir)
    refitted = ()
    if config.refit_ngrams:
        with clock('ngram_refit'):
            summary['ngram_refit'] = _refit_ngrams(network, inputs, train_ngrams,
                                                   summary['ngram_regression']['intercept'])
        refitted += ('ngram_regression',)
    return Fitted(history=history, stacking=summary, timings=clock.seconds,
                  fitted_on_eval=refitted)


RECIPES: Dict[str, Callable[[Network, Inputs], Fitted]] = {'stacked': stacked, 'lstm': lstm}


def _fit(network: Network, model: keras.Model, train: Arrays, eval_ds: tf.data.Dataset,
         inputs: Inputs, pseudo_labelled: int = 0) -> Dict[str, List[float]]:
    """Keras ``fit`` of ``model`` (the network or a branch of it) with the trainer's
    callbacks; returns the history.

    ``train`` is arrays that Keras batches and shuffles every epoch: the LSTM's token ids
    fit in memory (20k reviews x 400 ids: 64 MB), and Keras' own array path ran its steps
    15% faster than a tf.data pipeline over the same arrays (benchmarks/training.py)."""
    config = inputs.config
    x, y = train
    _LOG.info('Training on %d reviews%s, validating on %d; %d token ids x %d; up to %d epochs',
              inputs.counts['train'],
              f' and {pseudo_labelled} pseudo-labelled ones' if pseudo_labelled else '',
              inputs.counts['eval'], network.embedding.input_dim,
              x[schema.TOKEN_IDS_KEY].shape[1], config.epochs)
    # A per-batch bar at a terminal; else the trainer's TrainingLog writes periodic lines.
    verbose = 1 if sys.stdout.isatty() else 0
    return model.fit(x, y, batch_size=config.batch_size, shuffle=True,
                       validation_data=eval_ds, epochs=config.epochs,
                       callbacks=inputs.callbacks, verbose=verbose).history


def _fit_ngram_regression(matrix: sparse.csr_matrix, labels: np.ndarray,
                          config: ModelConfig) -> Tuple[np.ndarray, np.ndarray, Dict]:
    """NB-LR on these bags -> (ratios, weights, summary); ratios of 1 without NB scaling."""
    ratios = (stacking.nb_ratios(matrix, labels) if config.nb_scaling
              else np.ones(matrix.shape[1], 'float32'))
    _LOG.info('Fitting the n-gram regression: %d reviews x %d n-grams (C=%g)',
              matrix.shape[0], matrix.shape[1] - 1, config.ngram_c)
    try:
        weights, summary = stacking.fit_ngram_weights(matrix, labels, ratios, config.ngram_c)
    except ValueError as e:
        raise TrainError(f'{e} (or train with --no-ngram-branch)') from None
    return ratios, weights, summary


def _fit_ngrams(network: Network, config: ModelConfig, matrix: sparse.csr_matrix,
                labels: np.ndarray) -> Dict:
    """Fits the n-gram weights (NB-LR) on the train split into the network's n-gram bag.
    Returns a summary, with the regression's intercept for labelling unlabeled reviews."""
    ratios, weights, summary = _fit_ngram_regression(matrix, labels, config)
    network.ngram_bag.set_weights_and_ratios(ratios, weights)
    return summary


def _refit_ngrams(network: Network, inputs: Inputs,
                  train: Tuple[sparse.csr_matrix, np.ndarray], first_intercept: float) -> Dict:
    """The n-gram regression fitted again on the train and eval splits together into the
    network; the fusion's bias moves with the intercept, which the network leaves out:
    b * (n-gram logit + intercept) + bias keeps its meaning."""
    evaluation = data.ngram_data(inputs.data_dir, schema.EVAL_PREFIX, inputs.num_ngrams)
    matrix = sparse.vstack([train[0], evaluation[0]], format='csr')
    labels = np.concatenate([train[1], evaluation[1]])
    ratios, weights, summary = _fit_ngram_regression(matrix, labels, inputs.config)
    network.ngram_bag.set_weights_and_ratios(ratios, weights)
    fusion = network.fusion
    shift = float(fusion.coefficients.numpy()[1]) * (summary['intercept'] - first_intercept)
    fusion.intercept.assign(fusion.intercept.numpy() + shift)
    summary.update(reviews=int(matrix.shape[0]), fusion_bias_shift=round(shift, 6))
    _LOG.info('Refitted the n-gram regression on the train and eval splits (%d reviews); '
              'the fusion bias moved by %.4f', matrix.shape[0], shift)
    return summary


def _pseudo_labelled(data_dir: str, network: Network, num_ngrams: int,
                     intercept: float) -> Tuple[Arrays, Dict]:
    """The train split's token ids with their labels, and the unlabeled split's with the
    n-gram regression's labels, as one set of arrays."""
    token_ids, matrix = data.unlabeled_tokens_and_ngrams(data_dir, num_ngrams)
    bag = network.ngram_bag
    pseudo = (matrix @ (bag.ratios.numpy() * bag.kernel.numpy()) + intercept > 0).astype('int64')
    train_x, train_y = data.token_arrays(data_dir, schema.TRAIN_PREFIX)
    token_ids = np.concatenate([train_x[schema.TOKEN_IDS_KEY], token_ids])
    labels = np.concatenate([train_y, pseudo]).astype('int64')
    del matrix
    summary = {'unlabeled_reviews': int(len(pseudo)),
               'pseudo_positive_share': round(float(pseudo.mean()), 6) if len(pseudo) else None}
    _LOG.info('The LSTM learns from %d labelled reviews and %d unlabeled ones labelled by the '
              'n-gram regression (%.1f%% positive)', len(labels) - len(pseudo), len(pseudo),
              100 * (summary['pseudo_positive_share'] or 0))
    return ({schema.TOKEN_IDS_KEY: token_ids}, labels), summary


def _fit_fusion(network: Network, data_dir: str) -> Dict:
    """After both branches are trained: fits their fusion on the eval split into the network."""
    keys = tuple(network.model.input.keys())
    deep, wide, eval_labels = stacking.branch_logits(
        network.branch_logits(), data.make_dataset(data_dir, schema.EVAL_PREFIX, 512, keys=keys))
    try:
        coefficients, intercept, fusion = stacking.fit_fusion(deep, wide, eval_labels)
    except ValueError as e:
        raise TrainError(f'{e} (or train with --no-ngram-branch)') from None
    network.fusion.coefficients.assign(coefficients)
    network.fusion.intercept.assign(intercept)
    _LOG.info('Fusion on the eval split: LSTM alone %.4f, n-grams alone %.4f, fused %.4f '
              '(%.4f cross-validated); weights %s', fusion['lstm_accuracy'],
              fusion['ngram_accuracy'], fusion['fused_accuracy'],
              fusion.get('fused_accuracy_cv', float('nan')), fusion['coefficients'])
    return fusion
