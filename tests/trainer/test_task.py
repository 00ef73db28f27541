"""A one-epoch training run: the model, its history, plots and manifest."""

import csv
import json
import os

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from tests.support.networks import eval_scores, rebuilt_network
from transforms import schema

pytestmark = pytest.mark.e2e


def test_one_epoch_writes_model_history_plots_and_manifest(trained):
    model = trained['model']
    manifest = json.load(open(os.path.join(model, schema.MANIFEST_FILE)))
    assert manifest['status'] == 'ok' and manifest['epochs_run'] == 1 and manifest['best_epoch'] == 1
    assert manifest['config']['lstm_units'] == 8
    # The stacked recipe's fitted parts: the n-gram regression and a fusion fitted on eval.
    stacked = manifest['stacking']
    assert stacked['ngram_regression']['nonzero_ngrams'] > 100
    assert stacked['fusion']['coefficients'] != [1.0, 1.0]
    assert set(stacked['fusion']) >= {'lstm_accuracy', 'ngram_accuracy', 'fused_accuracy'}
    counts = manifest['preprocess']['manifest']['counts']
    assert counts['train'] > 150
    # After the fusion, the n-gram regression learnt again from train and eval; the fusion's
    # bias moved by its weight times the change of the (left out) intercept.
    refit, first = stacked['ngram_refit'], stacked['ngram_regression']
    assert refit['reviews'] == counts['train'] + counts['eval']
    assert refit['fusion_bias_shift'] == pytest.approx(
        stacked['fusion']['coefficients'][1] * (refit['intercept'] - first['intercept']),
        abs=1e-5)
    network = rebuilt_network(model)
    assert float(network.get_layer('fusion').intercept.numpy()) == pytest.approx(
        stacked['fusion']['intercept'] + refit['fusion_bias_shift'], abs=1e-5)
    # Where the time went: the recipe's parts, and the epoch's training and validation.
    timings = manifest['timings_s']
    assert set(timings['recipe_parts']) == {'ngram_regression', 'lstm', 'fusion', 'ngram_refit'}
    assert timings['recipe'] >= sum(timings['recipe_parts'].values()) - 0.5
    assert len(timings['epochs']) == 1 and timings['epochs'][0]['steps'] == -(
        -counts['train'] // manifest['config']['batch_size'])
    # The network rebuilt from its weights, on the eval split's TFRecords, read by sklearn.
    _, scores, labels = eval_scores(network, trained['preprocess'])
    # Refitted on eval, the model's figure there is a training fit, never "validation"; the
    # headline is the fusion's cross-validated accuracy, read before the refit.
    assert 'validation' not in manifest
    assert manifest['eval_fit']['refitted_on_it'] == ['ngram_regression']
    assert manifest['eval_fit']['accuracy'] == pytest.approx(
        accuracy_score(labels, np.array(scores) > 0.5), abs=1e-6)
    assert manifest['headline']['accuracy'] == stacked['fusion']['fused_accuracy_cv']
    assert manifest['headline']['measure'] == 'cross_validated'
    history = list(csv.DictReader(open(os.path.join(model, 'history.csv'))))
    assert len(history) == 1 and float(history[0]['learning_rate']) == pytest.approx(1e-3)
    for name in ('accuracy', 'loss', 'learning_rate', 'overfitting_gap'):
        assert os.path.getsize(os.path.join(model, 'plots', f'{name}.png')) > 1000
    assert os.path.exists(os.path.join(model, 'checkpoints', 'epoch-01.weights.h5'))
    assert os.listdir(os.path.join(model, 'logs'))
