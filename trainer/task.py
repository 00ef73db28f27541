"""Training: preprocess TFRecords -> a trained LSTM exported as a raw-text SavedModel.

``train(data_dir, config, out)`` does the work; the command line is pipeline.train.
"""

import dataclasses
import logging
import os
import sys
import time
from typing import Dict, List, Optional

import keras
import numpy as np
import tensorflow_transform as tft

from transforms import outputs
from transforms import features, progress
from transforms.errors import TrainError
from trainer import data, embeddings, export, plots, recipes
from trainer.config import ModelConfig
from trainer.model import build_model

_LOG = logging.getLogger(__name__)
MODEL_WEIGHTS = 'model.weights.h5'  # the whole network's final weights, for rebuilding it


def _preprocess_manifest(data_dir: str) -> Dict:
    path = os.path.join(data_dir, features.MANIFEST_FILE)
    if not os.path.exists(path):
        raise TrainError(f'{data_dir}: no {features.MANIFEST_FILE}; '
                         'is it the output folder of `imdb-sentiment preprocess`?')
    manifest = outputs.read_json(path)
    if manifest.get('status') != 'ok':
        raise TrainError(f'{data_dir}: the preprocess run failed ({manifest.get("error")})')
    return manifest


# Training's log lines come at least this often when no progress bar is shown.
PROGRESS_EVERY_S = 15.0


def at_terminal() -> bool:
    """Keras' per-batch progress bar only when a person watches (stdout is a terminal);
    a file or pipe gets TrainingLog's periodic lines instead."""
    return sys.stdout.isatty()


def _rate(value: float) -> str:
    return f'{value:.3g}'


class TrainingLog(keras.callbacks.Callback):
    """One line per epoch with its learning rate (rounded), the reduction of the rate said
    with it, and, without a progress bar, a line every ``every_s`` seconds within an epoch."""

    def __init__(self, every_s: float = PROGRESS_EVERY_S, bar: Optional[bool] = None):
        super().__init__()
        self._every_s = every_s
        self._bar = at_terminal() if bar is None else bar
        self._last = time.monotonic()
        self._reduced = None
        # Per epoch: seconds training, seconds validating, and training steps.
        self.epoch_parts: List[Dict[str, float]] = []
        self._validating: Optional[float] = 0.0  # None: in an epoch, not yet validating

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._epoch, self._started = epoch + 1, time.monotonic()
        self._validating = None
        self._steps = 0
        if self._reduced:  # said after the progress bar's epoch line, which ends the epoch
            _LOG.info('Learning rate reduced to %s (from %s) for epoch %d', *self._reduced,
                      self._epoch)
            self._reduced = None

    def _every(self, what: str, batch: int, steps: Optional[int], logs) -> None:
        if self._bar:
            progress.touch()  # the bar moved: the run's heartbeat need not speak
            return
        if time.monotonic() - self._last < self._every_s:
            return
        self._last = time.monotonic()
        shown = ', '.join(f'{k} {v:.4f}' for k, v in (logs or {}).items()
                          if k in ('loss', 'accuracy'))
        of = f'/{steps:,} ({100 * (batch + 1) / steps:.0f}%)' if steps else ''
        _LOG.info('Epoch %d/%d: %s batch %s%s%s', self._epoch, self.params.get('epochs', 0),
                  what, f'{batch + 1:,}', of, f'; {shown}' if shown else '')

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        self._steps = batch + 1
        self._every('training,', batch, self.params.get('steps'), logs)

    def on_test_begin(self, logs=None) -> None:
        if self._validating is None:  # within an epoch of fit: its validation begins
            self._validating = time.monotonic()

    def on_test_batch_end(self, batch: int, logs=None) -> None:
        self._every('validating,', batch, None, None)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        ended = time.monotonic()
        validating = self._validating or ended
        self.epoch_parts.append({'train_s': round(validating - self._started, 3),
                                 'validate_s': round(ended - validating, 3),
                                 'steps': self._steps})
        self._validating = 0.0
        logs = logs or {}
        now = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        rate = float(logs.get('learning_rate', now))
        measures = ', '.join(f'{k} {v:.4f}' for k, v in logs.items() if k != 'learning_rate')
        # No next epoch when EarlyStopping (called before us) stops here, or at the last one.
        last = self.model.stop_training or epoch + 1 >= self.params.get('epochs', 0)
        reduced = now < rate * (1 - 1e-6) and not last
        if not self._bar:
            _LOG.info('Epoch %d/%d (%.0f s): %s; learning rate %s%s', epoch + 1,
                      self.params.get('epochs', 0), time.monotonic() - self._started,
                      measures, _rate(rate),
                      f', reduced to {_rate(now)} for the next epoch' if reduced else '')
        elif reduced:
            self._reduced = (_rate(now), _rate(rate))
        self._last = time.monotonic()


class EpochsFromOne(keras.callbacks.CSVLogger):
    """history.csv with epochs counted from 1, as the plots and the manifest count them."""

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        super().on_epoch_end(epoch + 1, logs)


def _callbacks(config: ModelConfig, out: str) -> List[keras.callbacks.Callback]:
    return [
        keras.callbacks.EarlyStopping(monitor='val_loss', patience=config.early_stopping_patience,
                                      restore_best_weights=True, verbose=1),
        # Before the loggers: it adds the epoch's learning rate to the logs they write.
        # Quiet: TrainingLog says the new rate, rounded, with the epoch it follows.
        keras.callbacks.ReduceLROnPlateau(monitor='val_loss', factor=config.reduce_lr_factor,
                                          patience=config.reduce_lr_patience, verbose=0),
        TrainingLog(),
        keras.callbacks.ModelCheckpoint(
            os.path.join(out, 'checkpoints', 'epoch-{epoch:02d}.weights.h5'),
            save_weights_only=True),
        EpochsFromOne(os.path.join(out, 'history.csv')),
        keras.callbacks.TensorBoard(os.path.join(out, 'logs')),
    ]


def train(data_dir: str, config: ModelConfig, out: str) -> Dict:
    """Trains on ``data_dir`` and exports into ``out``; returns the manifest body.

    The steps: the data's id spaces, the network, the recipe that fits it
    (``trainer.recipes``), evaluation on the eval split, the export, the manifest.
    """
    started = time.time()
    pre = _preprocess_manifest(data_dir)
    keras.utils.set_random_seed(config.seed)
    num_ids, max_tokens = data.id_space(data_dir, pre['transform']['num_oov_buckets'])
    num_ngrams = data.ngram_space(data_dir) if config.ngram_branch else 0
    model = build_model(config, num_ids, max_tokens, num_ngrams)
    word_vectors = (_set_word_vectors(model, data_dir, config, num_ids)
                    if config.embedding_init == 'ppmi_svd' else None)
    eval_ds = data.make_dataset(data_dir, features.EVAL_PREFIX, config.batch_size,
                                num_examples=pre['counts']['eval'],
                                keys=tuple(model.input.keys()))
    callbacks = _callbacks(config, out)
    inputs = recipes.Inputs(data_dir=data_dir, config=config, counts=pre['counts'],
                            num_ngrams=num_ngrams, eval_ds=eval_ds, callbacks=callbacks)
    timings = {'setup': round(time.time() - started, 1)}
    started = time.time()
    fitted = recipes.RECIPES[recipes.recipe_name(config, num_ngrams)](model, inputs)
    train_time = time.time() - started
    timings.update(recipe=round(train_time, 1), recipe_parts=fitted.timings)
    started = time.time()
    validation = model.evaluate(eval_ds, verbose=0, return_dict=True)
    timings['evaluate'] = round(time.time() - started, 1)
    started = time.time()
    _export(model, data_dir, out, fitted)
    timings['export'] = round(time.time() - started, 1)
    log = next(c for c in callbacks if isinstance(c, TrainingLog))
    timings['epochs'] = log.epoch_parts
    sizes = {'token_ids': num_ids, 'max_tokens': max_tokens, 'ngram_ids': num_ngrams}
    return _describe(data_dir, pre, config, model, sizes, fitted, validation, word_vectors,
                     train_time, timings)


def _best_epoch(history: Dict[str, List[float]]) -> int:
    """The epoch (from 1) of the lowest validation loss: the weights EarlyStopping restores."""
    return 1 + min(range(len(history['val_loss'])), key=history['val_loss'].__getitem__)


def _export(model: keras.Model, data_dir: str, out: str, fitted: recipes.Fitted) -> None:
    """The weights (for rebuilding the network), the raw-text SavedModel and the plots."""
    model.save_weights(os.path.join(out, MODEL_WEIGHTS))
    export.export(model, tft.TFTransformOutput(data_dir), out)
    # The stacked recipe's epochs are the LSTM branch's alone; the headline is the fused model.
    plots.plot_history(fitted.history, os.path.join(out, features.MODEL_PLOTS_DIR),
                       best_epoch=_best_epoch(fitted.history),
                       network='LSTM branch' if fitted.stacking else 'model')


def _describe(data_dir: str, pre: Dict, config: ModelConfig, model: keras.Model,
              sizes: Dict[str, int], fitted: recipes.Fitted, validation: Dict[str, float],
              word_vectors: Optional[Dict], train_time: float, timings: Dict) -> Dict:
    """The manifest body: what was trained from, how, and how well."""
    history = fitted.history
    return {
        'job': 'train',
        'status': 'ok',
        'config': dataclasses.asdict(config),
        'preprocess': {'path': data_dir, 'manifest': pre},
        'model': {**sizes,
                  'inputs': list(model.input.keys()),
                  'parameters': int(model.count_params())},
        'epochs_run': len(history['loss']),
        'best_epoch': _best_epoch(history),
        'curves_of': 'lstm_branch' if fitted.stacking else 'model',
        'validation': {k: round(float(v), 6) for k, v in validation.items()},
        'word_vectors': word_vectors,
        'stacking': fitted.stacking,
        'history': {k: [round(float(x), 6) for x in v] for k, v in history.items()},
        'train_time_s': round(train_time, 1),
        # Wall seconds: setup (data, network, word vectors), the recipe and its parts,
        # evaluate, export; per gradient-descent epoch its training and validation parts.
        'timings_s': timings,
        'signatures': {export.SERVING_SIGNATURE: 'reviews: string [N] -> probability, label',
                       export.EXAMPLES_SIGNATURE: 'examples: serialized tf.Example [N] '
                                                  '(bytes feature "review") -> probability, label'},
        'versions': outputs.versions(),
    }


def _set_word_vectors(model: keras.Model, data_dir: str, config: ModelConfig,
                      num_ids: int) -> Dict:
    """PPMI-SVD word vectors from the train split and the unlabeled one, if preprocess wrote
    it, into the embedding layer. Returns a summary for the manifest."""
    started = time.time()
    splits = [features.TRAIN_PREFIX]
    if data.has_split(data_dir, features.UNLABELED_PREFIX):
        splits.append(features.UNLABELED_PREFIX)
    reviews = 0

    def batches():
        nonlocal reviews
        for split in splits:
            for ids in data.token_id_batches(data_dir, split):
                reviews += len(ids)
                yield ids

    _LOG.info('Learning word vectors (PPMI + SVD, %d dimensions) from the %s split(s)',
              config.embedding_dim, ' and '.join(splits))
    counts = embeddings.cooccurrence(batches(), num_ids, config.word_vector_window)
    vectors = embeddings.ppmi_svd(counts, config.embedding_dim, seed=config.seed)
    model.get_layer('embedding').set_weights([vectors])
    summary = {'method': 'ppmi_svd', 'splits': splits, 'reviews': reviews,
               'window': config.word_vector_window, 'frozen': config.freeze_word_vectors,
               'ids_with_vectors': int((np.abs(vectors).sum(axis=1) > 0).sum()),
               'seconds': round(time.time() - started, 1)}
    _LOG.info('Word vectors for %d of %d token ids from %d reviews in %.0fs',
              summary['ids_with_vectors'], num_ids, reviews, summary['seconds'])
    return summary
