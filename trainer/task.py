"""The train job: preprocess TFRecords -> a trained LSTM exported as a raw-text SavedModel.

  imdb-sentiment train --data out/preprocess --output out/model [--epochs 10]

Writes into --output (replaced only when training and export succeed): the
SavedModel (serving_default takes raw review strings), plots/, history.csv,
logs/ (TensorBoard), checkpoints/ and manifest.json.
"""

import argparse
import dataclasses
import logging
import os
import time
from typing import Dict, List, Sequence

import keras
import tensorflow as tf
import tensorflow_transform as tft

from pipeline import outputs
from transforms import features
from trainer import data, export, plots
from trainer.config import ModelConfig
from trainer.model import build_model

_LOG = logging.getLogger(__name__)


class TrainError(ValueError):
    """A problem with the trainer's inputs: reported in one line, no traceback."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='imdb-sentiment train', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', required=True, metavar='DIR',
                        help='Output folder of `imdb-sentiment preprocess`.')
    parser.add_argument('--output', required=True, metavar='DIR', help='Model folder to write.')
    for field in dataclasses.fields(ModelConfig):
        flag = '--' + field.name.replace('_', '-')
        if field.type in (bool, 'bool'):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction,
                                default=field.default, help=f'(default {field.default})')
        else:
            kind = {'int': int, 'float': float, 'str': str}.get(field.type, field.type)
            parser.add_argument(flag, type=kind, default=field.default,
                                help=f'(default %(default)s)')
    return parser


def _preprocess_manifest(data_dir: str) -> Dict:
    path = os.path.join(data_dir, features.MANIFEST_FILE)
    if not os.path.exists(path):
        raise TrainError(f'{data_dir}: no {features.MANIFEST_FILE}; '
                         'is it the output folder of `imdb-sentiment preprocess`?')
    manifest = outputs.read_json(path)
    if manifest.get('status') != 'ok':
        raise TrainError(f'{data_dir}: the preprocess run failed ({manifest.get("error")})')
    return manifest


def _callbacks(config: ModelConfig, out: str) -> List[keras.callbacks.Callback]:
    return [
        keras.callbacks.EarlyStopping(monitor='val_loss', patience=config.early_stopping_patience,
                                      restore_best_weights=True, verbose=1),
        # Before the loggers: it adds the epoch's learning rate to the logs they write.
        keras.callbacks.ReduceLROnPlateau(monitor='val_loss', factor=config.reduce_lr_factor,
                                          patience=config.reduce_lr_patience, verbose=1),
        keras.callbacks.ModelCheckpoint(
            os.path.join(out, 'checkpoints', 'epoch-{epoch:02d}.weights.h5'),
            save_weights_only=True),
        keras.callbacks.CSVLogger(os.path.join(out, 'history.csv')),
        keras.callbacks.TensorBoard(os.path.join(out, 'logs')),
    ]


def train(data_dir: str, config: ModelConfig, out: str) -> Dict:
    """Trains on ``data_dir`` and exports into ``out``; returns the manifest body."""
    pre = _preprocess_manifest(data_dir)
    keras.utils.set_random_seed(config.seed)
    num_ids, max_tokens = data.id_space(data_dir, pre['transform']['num_oov_buckets'])
    num_ngrams = data.ngram_space(data_dir) if config.ngram_branch else 0
    model = build_model(config, num_ids, max_tokens, num_ngrams)
    keys = tuple(model.input.keys())
    train_ds = data.make_dataset(data_dir, features.TRAIN_PREFIX, config.batch_size, shuffle=True,
                                 shuffle_buffer=config.shuffle_buffer, seed=config.seed,
                                 num_examples=pre['counts']['train'], keys=keys)
    eval_ds = data.make_dataset(data_dir, features.EVAL_PREFIX, config.batch_size,
                                num_examples=pre['counts']['eval'], keys=keys)
    if num_ngrams and config.nb_scaling:
        model.get_layer('ngram_bag').set_ratios(data.ngram_ratios(train_ds, num_ngrams))
    _LOG.info('Training on %d reviews, validating on %d; %d token ids x %d; up to %d epochs',
              pre['counts']['train'], pre['counts']['eval'], num_ids, max_tokens, config.epochs)
    started = time.time()
    history = model.fit(train_ds, validation_data=eval_ds, epochs=config.epochs,
                        callbacks=_callbacks(config, out), verbose=2).history
    train_time = time.time() - started
    best = min(range(len(history['val_loss'])), key=history['val_loss'].__getitem__)
    metrics = model.evaluate(eval_ds, verbose=0, return_dict=True)
    export.export(model, tft.TFTransformOutput(data_dir), out)
    plots.plot_history(history, os.path.join(out, 'plots'))
    return {
        'job': 'train',
        'status': 'ok',
        'config': dataclasses.asdict(config),
        'preprocess': {'path': data_dir, 'manifest': pre},
        'model': {'token_ids': num_ids, 'max_tokens': max_tokens, 'ngram_ids': num_ngrams,
                  'inputs': list(keys),
                  'parameters': int(model.count_params())},
        'epochs_run': len(history['loss']),
        'best_epoch': best + 1,
        'validation': {k: round(float(v), 6) for k, v in metrics.items()},
        'history': {k: [round(float(x), 6) for x in v] for k, v in history.items()},
        'train_time_s': round(train_time, 1),
        'signatures': {export.SERVING_SIGNATURE: 'reviews: string [N] -> probability, label',
                       export.EXAMPLES_SIGNATURE: 'examples: serialized tf.Example [N] '
                                                  '(bytes feature "review") -> probability, label'},
        'versions': outputs.versions(),
    }


def run(argv: Sequence[str] = None) -> int:
    args = _parser().parse_args(list(argv or []))
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(ModelConfig)}
    try:
        config = ModelConfig(**values)
    except ValueError as e:
        raise TrainError(str(e)) from None
    if not os.path.isdir(args.data):
        raise TrainError(f'--data {args.data}: no such folder')
    started = time.time()
    with outputs.StagedOutput(args.output) as out:
        manifest = train(args.data, config, out.path)
        manifest['created'] = outputs.utc_now()
        manifest['wall_time_s'] = round(time.time() - started, 1)
        outputs.write_json(os.path.join(out.path, features.MANIFEST_FILE), manifest)
        out.publish()
    v = manifest['validation']
    _LOG.info('Validation accuracy %.4f, AUC %.4f (best epoch %d of %d); model in %s',
              v['accuracy'], v.get('auc', float('nan')), manifest['best_epoch'],
              manifest['epochs_run'], args.output)
    return 0
