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

import dataclasses
import logging
import sys
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf

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


def recipe_name(config: ModelConfig, num_ngrams: int) -> str:
    """``config.ngram_fit`` when there is an n-gram branch to fit; else ``joint``."""
    return 'stacked' if num_ngrams and config.ngram_fit == 'stacked' else 'joint'


def joint(model: keras.Model, inputs: Inputs) -> Fitted:
    """Every trainable weight by gradient descent on the train split; with ``--nb-scaling``
    the n-gram branch, if any, scales its n-grams by the train split's naive-Bayes ratios."""
    config = inputs.config
    train_ds = _train_split(inputs, tuple(model.input.keys()))
    if inputs.num_ngrams and config.nb_scaling:
        model.get_layer('ngram_bag').set_ratios(data.ngram_ratios(train_ds, inputs.num_ngrams))
    return Fitted(history=_fit(model, train_ds, inputs.eval_ds, inputs))


def stacked(model: keras.Model, inputs: Inputs) -> Fitted:
    """The n-gram regression first (with ``--distill-unlabeled`` its labels for the unlabeled
    split teach the LSTM), then the LSTM alone by gradient descent, then the fusion."""
    config, num_ngrams = inputs.config, inputs.num_ngrams
    lstm = lstm_model(model, config)
    keys = tuple(lstm.input.keys())
    summary = {'ngram_regression': _fit_ngrams(model, inputs)}
    distill = None
    if config.distill_unlabeled and data.has_split(inputs.data_dir, features.UNLABELED_PREFIX):
        bag = model.get_layer('ngram_bag')
        train_ds, distill = _pseudo_labelled(
            inputs.data_dir, summary['ngram_regression'], bag.ratios.numpy(),
            bag.kernel.numpy(), num_ngrams, config.batch_size, config.seed)
        summary['distillation'] = distill
    else:
        train_ds = _train_split(inputs, keys)
    eval_ds = inputs.eval_ds.map(lambda x, y: ({k: x[k] for k in keys}, y))
    history = _fit(lstm, train_ds, eval_ds, inputs,
                   pseudo_labelled=distill['unlabeled_reviews'] if distill else 0)
    summary['fusion'] = _fit_fusion(model, inputs.data_dir)
    return Fitted(history=history, stacking=summary)


RECIPES: Dict[str, Callable[[keras.Model, Inputs], Fitted]] = {'stacked': stacked,
                                                               'joint': joint}


def _train_split(inputs: Inputs, keys: Tuple[str, ...]) -> tf.data.Dataset:
    config = inputs.config
    return data.make_dataset(inputs.data_dir, features.TRAIN_PREFIX, config.batch_size,
                             shuffle=True, shuffle_buffer=config.shuffle_buffer,
                             seed=config.seed, num_examples=inputs.counts['train'], keys=keys)


def _fit(network: keras.Model, train_ds: tf.data.Dataset, eval_ds: tf.data.Dataset,
         inputs: Inputs, pseudo_labelled: int = 0) -> Dict[str, List[float]]:
    """Keras ``fit`` with the trainer's callbacks; returns the history."""
    config = inputs.config
    _LOG.info('Training on %d reviews%s, validating on %d; %d token ids x %d; up to %d epochs',
              inputs.counts['train'],
              f' and {pseudo_labelled} pseudo-labelled ones' if pseudo_labelled else '',
              inputs.counts['eval'], network.get_layer('embedding').input_dim,
              network.input[features.TOKEN_IDS_KEY].shape[1], config.epochs)
    # A per-batch bar at a terminal; else the trainer's TrainingLog writes periodic lines.
    verbose = 1 if sys.stdout.isatty() else 0
    return network.fit(train_ds, validation_data=eval_ds, epochs=config.epochs,
                       callbacks=inputs.callbacks, verbose=verbose).history


def _fit_ngrams(model: keras.Model, inputs: Inputs) -> Dict:
    """Fits the n-gram weights (NB-LR) on the train split into ``model``'s ``ngram_bag``.
    Returns a summary, with the regression's intercept for labelling unlabeled reviews."""
    config, num_ngrams = inputs.config, inputs.num_ngrams
    train_all = data.make_dataset(inputs.data_dir, features.TRAIN_PREFIX, 512,
                                  keys=tuple(model.input.keys()))
    matrix, labels = stacking.ngram_matrix(train_all, num_ngrams)
    ratios = (data.ngram_ratios(train_all, num_ngrams) if config.nb_scaling
              else np.ones(num_ngrams + 1, 'float32'))
    _LOG.info('Fitting the n-gram regression: %d reviews x %d n-grams (C=%g)',
              matrix.shape[0], num_ngrams, config.ngram_c)
    try:
        weights, ngram = stacking.fit_ngram_weights(matrix, labels, ratios, config.ngram_c)
    except ValueError as e:
        raise TrainError(f'{e} (or train with --ngram-fit joint or --no-ngram-branch)') from None
    bag = model.get_layer('ngram_bag')
    bag.set_ratios(ratios)
    bag.kernel.assign(weights)
    return ngram


def _pseudo_labelled(data_dir: str, ngram: Dict, ratios: np.ndarray, weights: np.ndarray,
                     num_ngrams: int, batch_size: int, seed: int) -> Tuple[tf.data.Dataset, Dict]:
    """The train split's token ids with their labels, and the unlabeled split's with the
    n-gram regression's labels, shuffled together into (features, label) batches."""
    # Read once each, in one order: the token ids and the labels (or n-grams) stay aligned.
    unlabeled = list(data.make_dataset(
        data_dir, features.UNLABELED_PREFIX, 512, cache=False,
        keys=(features.TOKEN_IDS_KEY, features.NGRAM_IDS_KEY)).as_numpy_iterator())
    matrix, _ = stacking.ngram_matrix(unlabeled, num_ngrams)
    pseudo = (matrix @ (ratios * weights) + ngram['intercept'] > 0).astype('int64')
    train = list(data.make_dataset(data_dir, features.TRAIN_PREFIX, 512, cache=False,
                                   keys=(features.TOKEN_IDS_KEY,)).as_numpy_iterator())
    token_ids = np.concatenate([x[features.TOKEN_IDS_KEY] for x, _ in train + unlabeled])
    labels = np.concatenate([*(y for _, y in train), pseudo]).astype('int64')
    del unlabeled, matrix
    dataset = (tf.data.Dataset.from_tensor_slices(({features.TOKEN_IDS_KEY: token_ids}, labels))
               .shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
               .batch(batch_size)
               .prefetch(tf.data.AUTOTUNE))
    summary = {'unlabeled_reviews': int(len(pseudo)),
               'pseudo_positive_share': round(float(pseudo.mean()), 6) if len(pseudo) else None}
    _LOG.info('The LSTM learns from %d labelled reviews and %d unlabeled ones labelled by the '
              'n-gram regression (%.1f%% positive)', len(labels) - len(pseudo), len(pseudo),
              100 * (summary['pseudo_positive_share'] or 0))
    return dataset, summary


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
