"""Training: preprocess TFRecords -> a trained LSTM exported as a raw-text SavedModel.

``train(data_dir, config, out)`` does the work; the command line is pipeline.jobs.train.
"""

import dataclasses
import json
import logging
import os
from typing import Dict, List, Optional

import keras
import numpy as np
import tensorflow_transform as tft

from trainer import data, embeddings, export, plots, recipes
from trainer.callbacks import TrainingLog, make_callbacks
from trainer.config import ModelConfig
from trainer.model import Network, build_model
from trainer.timing import Clock
from transforms import features, jsonio, schema
from transforms.beam.inference import export_files
from transforms.errors import TrainError

_LOG = logging.getLogger(__name__)
MODEL_WEIGHTS = 'model.weights.h5'  # the whole network's final weights, for rebuilding it


def rebuild_network(model_dir: str) -> keras.Model:
    """The trained network of a model folder, rebuilt from its manifest's config and sizes
    with its saved weights (``MODEL_WEIGHTS``)."""
    with open(os.path.join(model_dir, schema.MANIFEST_FILE), encoding='utf-8') as f:
        manifest = json.load(f)
    sizes = manifest['model']
    network = build_model(ModelConfig(**manifest['config']), sizes['token_ids'],
                          sizes['max_tokens'], sizes['ngram_ids']).model
    network.load_weights(os.path.join(model_dir, MODEL_WEIGHTS))
    return network


def _preprocess_manifest(data_dir: str) -> Dict:
    path = os.path.join(data_dir, schema.MANIFEST_FILE)
    if not os.path.exists(path):
        raise TrainError(f'{data_dir}: no {schema.MANIFEST_FILE}; '
                         'is it the output folder of `imdb-sentiment preprocess`?')
    manifest = jsonio.read_json(path)
    if manifest.get('status') != 'ok':
        raise TrainError(f'{data_dir}: the preprocess run failed ({manifest.get("error")})')
    return manifest


def train(data_dir: str, config: ModelConfig, out: str) -> Dict:
    """Trains on ``data_dir`` and exports into ``out``; returns the manifest body.

    The steps: the data's id spaces, the network, the recipe that fits it
    (``trainer.recipes``), evaluation on the eval split, the export, the manifest.
    """
    clock = Clock()
    with clock('setup'):
        pre = _preprocess_manifest(data_dir)
        keras.utils.set_random_seed(config.seed)
        num_ids, max_tokens = data.id_space(data_dir, pre['transform']['num_oov_buckets'])
        num_ngrams = data.ngram_space(data_dir) if config.ngram_branch else 0
        network = build_model(config, num_ids, max_tokens, num_ngrams)
        model = network.model
        word_vectors = (_set_word_vectors(network, data_dir, config, num_ids)
                        if config.embedding_init == 'ppmi_svd' else None)
        eval_ds = data.make_dataset(data_dir, schema.EVAL_PREFIX, config.batch_size,
                                    num_examples=pre['counts']['eval'],
                                    keys=tuple(model.input.keys()))
        callbacks = make_callbacks(config, out)
        inputs = recipes.Inputs(data_dir=data_dir, config=config, counts=pre['counts'],
                                num_ngrams=num_ngrams, eval_ds=eval_ds, callbacks=callbacks)
    with clock('recipe'):
        fitted = recipes.RECIPES[recipes.recipe_name(config, num_ngrams)](network, inputs)
    with clock('evaluate'):
        on_eval = model.evaluate(eval_ds, verbose=0, return_dict=True)
    with clock('export'):
        _export(model, data_dir, out, fitted)
    timings = dict(clock.seconds, recipe_parts=fitted.timings,
                   epochs=next(c for c in callbacks if isinstance(c, TrainingLog)).epoch_parts)
    sizes = {'token_ids': num_ids, 'max_tokens': max_tokens, 'ngram_ids': num_ngrams}
    manifest = _describe(data_dir, pre, config, model, sizes, fitted, on_eval, word_vectors,
                         clock.seconds['recipe'], timings)
    # What serving reads, with sizes and hashes: a loader checks a copy against it.
    manifest[schema.EXPORT_FILES_KEY] = export_files(out)
    return manifest


def _best_epoch(history: Dict[str, List[float]]) -> int:
    """The epoch (from 1) of the lowest validation loss: the weights EarlyStopping restores."""
    return 1 + min(range(len(history['val_loss'])), key=history['val_loss'].__getitem__)


def _export(model: keras.Model, data_dir: str, out: str, fitted: recipes.Fitted) -> None:
    """The weights (for rebuilding the network), the raw-text SavedModel and the plots."""
    model.save_weights(os.path.join(out, MODEL_WEIGHTS))
    export.export(model, tft.TFTransformOutput(data_dir), out)
    # The stacked recipe's epochs are the LSTM branch's alone; the headline is the fused model.
    plots.plot_history(fitted.history, os.path.join(out, schema.MODEL_PLOTS_DIR),
                       best_epoch=_best_epoch(fitted.history),
                       network='LSTM branch' if fitted.stacking else 'model')


def headline(fitted: recipes.Fitted, on_eval: Dict[str, float]) -> Dict:
    """The one figure ``train`` reports, and what it measured.

    The stacked recipe's is the fusion's cross-validated accuracy on the eval split, where
    both branches were out of sample (read before any refit on it); the LSTM recipe's is the
    eval split's accuracy, which early stopping watched."""
    fusion = (fitted.stacking or {}).get('fusion')
    if fusion and 'fused_accuracy_cv' in fusion:
        return {'accuracy': fusion['fused_accuracy_cv'], 'measure': 'cross_validated',
                'measured_on': 'the eval split, the fusion cross-validated (5 folds) on the '
                               'two branches\' out-of-sample logits'
                               + (', before the refit on it' if fitted.fitted_on_eval else '')}
    if fusion:  # too few reviews of a class to cross-validate
        return {'accuracy': fusion['fused_accuracy'], 'measure': 'fusion_fit',
                'measured_on': 'the eval split the fusion was fitted on (too few reviews to '
                               'cross-validate)'}
    return {'accuracy': round(float(on_eval['accuracy']), 6), 'measure': 'validation',
            'measured_on': 'the eval split, which early stopping watched'}


def _eval_figures(fitted: recipes.Fitted, on_eval: Dict[str, float]) -> Dict:
    """The final network on the eval split, named for what it is: ``validation`` while no
    exported weight learnt from it, else ``eval_fit`` (training data: not a measure)."""
    figures = {k: round(float(v), 6) for k, v in on_eval.items()}
    if fitted.fitted_on_eval:
        return {'eval_fit': dict(figures, refitted_on_it=list(fitted.fitted_on_eval))}
    return {'validation': figures}


def _describe(data_dir: str, pre: Dict, config: ModelConfig, model: keras.Model,
              sizes: Dict[str, int], fitted: recipes.Fitted, on_eval: Dict[str, float],
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
        'headline': headline(fitted, on_eval),
        **_eval_figures(fitted, on_eval),
        'word_vectors': word_vectors,
        'stacking': fitted.stacking,
        'history': {k: [round(float(x), 6) for x in v] for k, v in history.items()},
        'train_time_s': round(train_time, 1),
        # Wall seconds: setup (data, network, word vectors), the recipe and its parts,
        # evaluate, export; per gradient-descent epoch its training and validation parts.
        'timings_s': timings,
        'signatures': {export.SERVING_SIGNATURE: 'reviews: string [N] -> probability, label',
                       export.EXAMPLES_SIGNATURE: 'examples: serialized tf.Example [N] '
                                                  f'(bytes feature "{features.REVIEW_KEY}") -> '
                                                  'probability, label'},
        'versions': jsonio.versions(),
    }


def _set_word_vectors(network: Network, data_dir: str, config: ModelConfig,
                      num_ids: int) -> Dict:
    """PPMI-SVD word vectors from the train split and the unlabeled one, if preprocess wrote
    it, into the embedding layer. Returns a summary for the manifest."""
    clock = Clock()
    splits = [schema.TRAIN_PREFIX]
    if data.has_split(data_dir, schema.UNLABELED_PREFIX):
        splits.append(schema.UNLABELED_PREFIX)
    reviews = 0

    def batches():
        nonlocal reviews
        for split in splits:
            for ids in data.token_id_batches(data_dir, split):
                reviews += len(ids)
                yield ids

    _LOG.info('Learning word vectors (PPMI + SVD, %d dimensions) from the %s split(s)',
              config.embedding_dim, ' and '.join(splits))
    with clock('word_vectors'):
        counts = embeddings.cooccurrence(batches(), num_ids, config.word_vector_window)
        vectors = embeddings.ppmi_svd(counts, config.embedding_dim, seed=config.seed)
    network.embedding.set_weights([vectors])
    summary = {'method': 'ppmi_svd', 'splits': splits, 'reviews': reviews,
               'window': config.word_vector_window, 'frozen': config.freeze_word_vectors,
               'ids_with_vectors': int((np.abs(vectors).sum(axis=1) > 0).sum()),
               'seconds': clock.seconds['word_vectors']}
    _LOG.info('Word vectors for %d of %d token ids from %d reviews in %.0fs',
              summary['ids_with_vectors'], num_ids, reviews, summary['seconds'])
    return summary
