"""The training recipes: how the built network's weights get fitted, one function each.

A recipe takes the network from ``trainer.model.build_model`` and the data, fits the
network in place and returns a ``Fitted``: the Keras history of its gradient-descent
part and what it adds to the manifest. ``trainer.task.train`` picks one with
``recipe_name`` and does the rest (evaluation, export, manifest) the same for all;
a new recipe is one function here and one entry in ``RECIPES``.

- ``stacked``: n-gram regression (NB-LR), then the LSTM alone, then the fusion of
  their logits on the eval split (``trainer.stacking`` says why).
- ``joint``: the whole network by gradient descent; with no n-gram branch (no
  ``ngram_ids`` written, or ``--no-ngram-branch``) that is the LSTM alone.
"""

import contextlib
import dataclasses
import logging
import sys
import time
from typing import Callable, Dict, List, Mapping, Optional, Tuple, Union

import keras
import numpy as np
import tensorflow as tf
from scipy import sparse

from transforms import features
from transforms.errors import TrainError
from trainer import data, stacking
from trainer.config import ModelConfig
from trainer.model import lstm_model

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


class _Clock:
    """Wall seconds per named part: ``with clock('lstm'): ...``."""

    def __init__(self):
        self.seconds: Dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = round(time.monotonic() - started, 1)


def recipe_name(config: ModelConfig, num_ngrams: int) -> str:
    """``config.ngram_fit`` when there is an n-gram branch to fit; else ``joint``."""
    return 'stacked' if num_ngrams and config.ngram_fit == 'stacked' else 'joint'


def joint(model: keras.Model, inputs: Inputs) -> Fitted:
    """Every trainable weight by gradient descent on the train split; with ``--nb-scaling``
    the n-gram branch, if any, scales its n-grams by the train split's naive-Bayes ratios."""
    config = inputs.config
    clock = _Clock()
    train_ds = _train_split(inputs, tuple(model.input.keys()))
    if inputs.num_ngrams and config.nb_scaling:
        with clock('ngram_ratios'):
            ratios = data.ngram_ratios(train_ds, inputs.num_ngrams)
        model.get_layer('ngram_bag').set_ratios(ratios)
    with clock('network'):
        history = _fit(model, train_ds, inputs.eval_ds, inputs)
    return Fitted(history=history, timings=clock.seconds)


def stacked(model: keras.Model, inputs: Inputs) -> Fitted:
    """The n-gram regression first (with ``--distill-unlabeled`` its labels for the unlabeled
    split teach the LSTM), then the LSTM alone by gradient descent, then the fusion; with
    ``--refit-ngrams`` the n-gram regression again, on the train and eval splits."""
    config, num_ngrams = inputs.config, inputs.num_ngrams
    clock = _Clock()
    lstm = lstm_model(model, config)
    keys = tuple(lstm.input.keys())
    with clock('ngram_regression'):
        train_ngrams = _ngram_data(inputs.data_dir, features.TRAIN_PREFIX, num_ngrams)
        summary = {'ngram_regression': _fit_ngrams(model, inputs, *train_ngrams)}
    distill = None
    if config.distill_unlabeled and data.has_split(inputs.data_dir, features.UNLABELED_PREFIX):
        with clock('pseudo_labels'):
            bag = model.get_layer('ngram_bag')
            train, distill = _pseudo_labelled(
                inputs.data_dir, summary['ngram_regression'], bag.ratios.numpy(),
                bag.kernel.numpy(), num_ngrams)
        summary['distillation'] = distill
    else:
        train = _token_arrays(inputs.data_dir, features.TRAIN_PREFIX)
    eval_ds = inputs.eval_ds.map(lambda x, y: ({k: x[k] for k in keys}, y))
    with clock('lstm'):
        history = _fit(lstm, train, eval_ds, inputs,
                       pseudo_labelled=distill['unlabeled_reviews'] if distill else 0)
    with clock('fusion'):
        summary['fusion'] = _fit_fusion(model, inputs.data_dir)
    if config.refit_ngrams:
        with clock('ngram_refit'):
            summary['ngram_refit'] = _refit_ngrams(model, inputs, train_ngrams,
                                                   summary['ngram_regression']['intercept'])
    return Fitted(history=history, stacking=summary, timings=clock.seconds)


RECIPES: Dict[str, Callable[[keras.Model, Inputs], Fitted]] = {'stacked': stacked,
                                                               'joint': joint}


def _train_split(inputs: Inputs, keys: Tuple[str, ...]) -> tf.data.Dataset:
    config = inputs.config
    return data.make_dataset(inputs.data_dir, features.TRAIN_PREFIX, config.batch_size,
                             shuffle=True, shuffle_buffer=config.shuffle_buffer,
                             seed=config.seed, num_examples=inputs.counts['train'], keys=keys)


# In-memory training data: ({input name: array [reviews, ...]}, labels [reviews]).
Arrays = Tuple[Dict[str, np.ndarray], np.ndarray]


def _fit(network: keras.Model, train: Union[tf.data.Dataset, Arrays], eval_ds: tf.data.Dataset,
         inputs: Inputs, pseudo_labelled: int = 0) -> Dict[str, List[float]]:
    """Keras ``fit`` with the trainer's callbacks; returns the history.

    ``train`` is a dataset of shuffled batches, or arrays that Keras batches and shuffles
    every epoch: the LSTM's token ids fit in memory (20k reviews x 400 ids: 64 MB), and
    Keras' own array path ran its steps 15% faster than a tf.data pipeline over the same
    arrays (benchmarks/training.py)."""
    config = inputs.config
    _LOG.info('Training on %d reviews%s, validating on %d; %d token ids x %d; up to %d epochs',
              inputs.counts['train'],
              f' and {pseudo_labelled} pseudo-labelled ones' if pseudo_labelled else '',
              inputs.counts['eval'], network.get_layer('embedding').input_dim,
              network.input[features.TOKEN_IDS_KEY].shape[1], config.epochs)
    # A per-batch bar at a terminal; else the trainer's TrainingLog writes periodic lines.
    verbose = 1 if sys.stdout.isatty() else 0
    if isinstance(train, tf.data.Dataset):
        return network.fit(train, validation_data=eval_ds, epochs=config.epochs,
                           callbacks=inputs.callbacks, verbose=verbose).history
    x, y = train
    return network.fit(x, y, batch_size=config.batch_size, shuffle=True,
                       validation_data=eval_ds, epochs=config.epochs,
                       callbacks=inputs.callbacks, verbose=verbose).history


def _token_arrays(data_dir: str, split: str) -> Arrays:
    """A split's token ids and labels, read once into memory."""
    batches = list(data.make_dataset(data_dir, split, 1024, cache=False,
                                     keys=(features.TOKEN_IDS_KEY,)).as_numpy_iterator())
    token_ids = np.concatenate([x[features.TOKEN_IDS_KEY] for x, _ in batches])
    labels = np.concatenate([y for _, y in batches]).astype('int64')
    return {features.TOKEN_IDS_KEY: token_ids}, labels


def _ngram_data(data_dir: str, split: str, num_ngrams: int) -> Tuple[sparse.csr_matrix,
                                                                       np.ndarray]:
    """A split's binary n-gram bags and labels: (CSR [reviews, num_ngrams + 1], labels)."""
    return stacking.ngram_matrix(data.make_dataset(
        data_dir, split, 512, cache=False, keys=(features.NGRAM_IDS_KEY,)), num_ngrams)


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
        raise TrainError(f'{e} (or train with --ngram-fit joint or --no-ngram-branch)') from None
    return ratios, weights, summary


def _set_ngram_weights(model: keras.Model, ratios: np.ndarray, weights: np.ndarray) -> None:
    bag = model.get_layer('ngram_bag')
    bag.set_ratios(ratios)
    bag.kernel.assign(weights)


def _fit_ngrams(model: keras.Model, inputs: Inputs, matrix: sparse.csr_matrix,
                labels: np.ndarray) -> Dict:
    """Fits the n-gram weights (NB-LR) on the train split into ``model``'s ``ngram_bag``.
    Returns a summary, with the regression's intercept for labelling unlabeled reviews."""
    ratios, weights, summary = _fit_ngram_regression(matrix, labels, inputs.config)
    _set_ngram_weights(model, ratios, weights)
    return summary


def _refit_ngrams(model: keras.Model, inputs: Inputs,
                  train: Tuple[sparse.csr_matrix, np.ndarray], first_intercept: float) -> Dict:
    """The n-gram regression fitted again on the train and eval splits together into
    ``model``; the fusion's bias moves with the intercept, which the network leaves out:
    b * (n-gram logit + intercept) + bias keeps its meaning."""
    evaluation = _ngram_data(inputs.data_dir, features.EVAL_PREFIX, inputs.num_ngrams)
    matrix = sparse.vstack([train[0], evaluation[0]], format='csr')
    labels = np.concatenate([train[1], evaluation[1]])
    ratios, weights, summary = _fit_ngram_regression(matrix, labels, inputs.config)
    _set_ngram_weights(model, ratios, weights)
    fusion = model.get_layer('fusion')
    shift = float(fusion.coefficients.numpy()[1]) * (summary['intercept'] - first_intercept)
    fusion.intercept.assign(fusion.intercept.numpy() + shift)
    summary.update(reviews=int(matrix.shape[0]), fusion_bias_shift=round(shift, 6))
    _LOG.info('Refitted the n-gram regression on the train and eval splits (%d reviews); '
              'the fusion bias moved by %.4f', matrix.shape[0], shift)
    return summary


def _pseudo_labelled(data_dir: str, ngram: Dict, ratios: np.ndarray, weights: np.ndarray,
                     num_ngrams: int) -> Tuple[Arrays, Dict]:
    """The train split's token ids with their labels, and the unlabeled split's with the
    n-gram regression's labels, as one set of arrays."""
    # Read once each, in one order: the token ids and the labels (or n-grams) stay aligned.
    unlabeled = list(data.make_dataset(
        data_dir, features.UNLABELED_PREFIX, 512, cache=False,
        keys=(features.TOKEN_IDS_KEY, features.NGRAM_IDS_KEY)).as_numpy_iterator())
    matrix, _ = stacking.ngram_matrix(unlabeled, num_ngrams)
    pseudo = (matrix @ (ratios * weights) + ngram['intercept'] > 0).astype('int64')
    train_x, train_y = _token_arrays(data_dir, features.TRAIN_PREFIX)
    token_ids = np.concatenate([train_x[features.TOKEN_IDS_KEY],
                                *(x[features.TOKEN_IDS_KEY] for x, _ in unlabeled)])
    labels = np.concatenate([train_y, pseudo]).astype('int64')
    del unlabeled, matrix
    summary = {'unlabeled_reviews': int(len(pseudo)),
               'pseudo_positive_share': round(float(pseudo.mean()), 6) if len(pseudo) else None}
    _LOG.info('The LSTM learns from %d labelled reviews and %d unlabeled ones labelled by the '
              'n-gram regression (%.1f%% positive)', len(labels) - len(pseudo), len(pseudo),
              100 * (summary['pseudo_positive_share'] or 0))
    return ({features.TOKEN_IDS_KEY: token_ids}, labels), summary


def _fit_fusion(model: keras.Model, data_dir: str) -> Dict:
    """After both branches are trained: fits their fusion on the eval split into ``model``."""
    keys = tuple(model.input.keys())
    deep, wide, eval_labels = stacking.branch_logits(
        model, data.make_dataset(data_dir, features.EVAL_PREFIX, 512, keys=keys))
    try:
        coefficients, intercept, fusion = stacking.fit_fusion(deep, wide, eval_labels)
    except ValueError as e:
        raise TrainError(f'{e} (or train with --ngram-fit joint or --no-ngram-branch)') from None
    layer = model.get_layer('fusion')
    layer.coefficients.assign(coefficients)
    layer.intercept.assign(intercept)
    _LOG.info('Fusion on the eval split: LSTM alone %.4f, n-grams alone %.4f, fused %.4f '
              '(%.4f cross-validated); weights %s', fusion['lstm_accuracy'],
              fusion['ngram_accuracy'], fusion['fused_accuracy'],
              fusion.get('fused_accuracy_cv', float('nan')), fusion['coefficients'])
    return fusion
