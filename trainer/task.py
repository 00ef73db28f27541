"""Training: preprocess TFRecords -> a trained LSTM exported as a raw-text SavedModel.

``train(data_dir, config, out)`` does the work; the command line is pipeline.train.
"""

import dataclasses
import logging
import os
import time
from typing import Dict, List, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from transforms import outputs
from transforms import features
from transforms.errors import TrainError
from trainer import data, embeddings, export, plots, stacking
from trainer.config import ModelConfig
from trainer.model import build_model, lstm_model

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
    word_vectors = (_set_word_vectors(model, data_dir, config, num_ids)
                    if config.embedding_init == 'ppmi_svd' else None)
    stacked = bool(num_ngrams) and config.ngram_fit == 'stacked'
    # The stacked recipe trains the LSTM alone by gradient descent; the n-gram weights are
    # fitted before it and the fusion after it.
    fitted = lstm_model(model, config) if stacked else model
    fit_keys = tuple(fitted.input.keys())
    eval_ds = data.make_dataset(data_dir, features.EVAL_PREFIX, config.batch_size,
                                num_examples=pre['counts']['eval'], keys=keys)
    started = time.time()
    stacking_summary, distill = None, None
    if stacked:
        # The n-grams first: with --distill-unlabeled their labels teach the LSTM.
        stacking_summary = {'ngram_regression': _fit_ngrams(model, data_dir, config, num_ngrams)}
    if stacked and config.distill_unlabeled and data.has_split(data_dir, features.UNLABELED_PREFIX):
        bag = model.get_layer('ngram_bag')
        train_ds, distill = _pseudo_labelled(
            data_dir, stacking_summary['ngram_regression'], bag.ratios.numpy(),
            bag.kernel.numpy(), num_ngrams, config.batch_size, config.seed)
        stacking_summary['distillation'] = distill
    else:
        train_ds = data.make_dataset(data_dir, features.TRAIN_PREFIX, config.batch_size,
                                     shuffle=True, shuffle_buffer=config.shuffle_buffer,
                                     seed=config.seed, num_examples=pre['counts']['train'],
                                     keys=fit_keys)
    if num_ngrams and config.nb_scaling and not stacked:
        model.get_layer('ngram_bag').set_ratios(data.ngram_ratios(train_ds, num_ngrams))
    _LOG.info('Training on %d reviews%s, validating on %d; %d token ids x %d; up to %d epochs',
              pre['counts']['train'],
              f' and {distill["unlabeled_reviews"]} pseudo-labelled ones' if distill else '',
              pre['counts']['eval'], num_ids, max_tokens, config.epochs)
    fit_eval_ds = eval_ds.map(lambda x, y: ({k: x[k] for k in fit_keys}, y)) if stacked else eval_ds
    history = fitted.fit(train_ds, validation_data=fit_eval_ds, epochs=config.epochs,
                         callbacks=_callbacks(config, out), verbose=2).history
    if stacked:
        stacking_summary['fusion'] = _fit_fusion(model, data_dir)
    train_time = time.time() - started
    best = min(range(len(history['val_loss'])), key=history['val_loss'].__getitem__)
    metrics = model.evaluate(eval_ds, verbose=0, return_dict=True)
    model.save_weights(os.path.join(out, MODEL_WEIGHTS))
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
        'word_vectors': word_vectors,
        'stacking': stacking_summary,
        'history': {k: [round(float(x), 6) for x in v] for k, v in history.items()},
        'train_time_s': round(train_time, 1),
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


def _fit_ngrams(model: keras.Model, data_dir: str, config: ModelConfig,
                num_ngrams: int) -> Dict:
    """Fits the n-gram weights (NB-LR) on the train split into ``model``'s ``ngram_bag``.
    Returns a summary, with the regression's intercept for labelling unlabeled reviews."""
    keys = tuple(model.input.keys())
    train_all = data.make_dataset(data_dir, features.TRAIN_PREFIX, 512, keys=keys)
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
