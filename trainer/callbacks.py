"""The trainer's Keras callbacks: early stopping, learning-rate reduction, checkpoints,
history.csv, TensorBoard, and the log lines a person reads while training runs."""

import logging
import os
import sys
import time
from typing import Dict, List, Optional

import keras

from trainer.config import ModelConfig
from transforms import activity

_LOG = logging.getLogger(__name__)

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
            activity.touch()  # the bar moved: the run's heartbeat need not speak
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


def make_callbacks(config: ModelConfig, out: str) -> List[keras.callbacks.Callback]:
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
