"""The trainer: model builder, a one-epoch run, the raw-text export and predict."""

import csv
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from pipeline import cli
from trainer.config import ModelConfig
from trainer.model import build_model
from trainer.task import rebuild_network
from transforms import schema

pytestmark = pytest.mark.e2e



@pytest.mark.parametrize('pooling', ['last', 'mean', 'max_mean'])
def test_model_shapes_and_padding_is_masked(pooling):
    network = build_model(ModelConfig(embedding_dim=4, lstm_units=3, dense_units=4,
                                      pooling=pooling), vocab_ids=20, max_tokens=6, ngram_ids=9)
    model = network.model
    assert model.output_shape == (None, 1)
    ids = {'token_ids': np.array([[3, 4, 5, 0, 0, 0], [7, 0, 0, 0, 0, 0]], dtype='int64'),
           'ngram_ids': np.array([[1, 5, 9, 0], [2, 0, 0, 0]], dtype='int64')}
    network.ngram_bag.kernel.assign(np.linspace(-1, 1, 10, dtype='float32'))
    before = model.predict(ids, verbose=0)
    embedding = network.embedding
    weights = embedding.get_weights()[0]
    weights[0] = 50.0  # the padding row: masked positions must not matter
    embedding.set_weights([weights])
    np.testing.assert_allclose(model.predict(ids, verbose=0), before, atol=1e-6)
    bag = network.ngram_bag
    kernel = bag.kernel.numpy()
    kernel[0] = 50.0  # n-gram padding must not matter either
    bag.kernel.assign(kernel)
    np.testing.assert_allclose(model.predict(ids, verbose=0), before, atol=1e-6)
    assert ((before > 0) & (before < 1)).all()


def test_ngram_branch_is_off_without_ngram_ids_or_by_flag():
    for config, ngram_ids in ((ModelConfig(), 0), (ModelConfig(ngram_branch=False), 9)):
        network = build_model(config, vocab_ids=20, max_tokens=6, ngram_ids=ngram_ids)
        assert list(network.model.input) == ['token_ids']
        assert network.ngram_bag is None and network.fusion is None
        assert 'ngram_bag' not in [layer.name for layer in network.model.layers]


def test_ngram_bag_is_naive_bayes_scaled_logistic_regression():
    from trainer.model import NgramBag
    ids = np.array([[1, 2, 0], [3, 0, 0]], dtype='int64')
    bag = NgramBag(3)
    bag.build(ids.shape)
    assert not bag.trainable_weights  # fitted by the trainer, never by gradient descent
    bag.set_weights_and_ratios(np.array([9.0, 1.0, -2.0, 4.0], dtype='float32'),
                               np.array([9.0, 0.5, 0.5, 0.25], dtype='float32'))
    # sum over the review's n-grams of weight * ratio; padding (0) counts nothing.
    np.testing.assert_allclose(bag(ids).numpy(), [[0.5 - 1.0], [1.0]], rtol=1e-6)


def test_ngram_matrix_and_regression_match_scikit_learn_nb_lr():
    import tensorflow as tf
    from sklearn.linear_model import LogisticRegression
    from trainer import data, stacking
    ids = np.array([[1, 2, 2, 0], [1, 3, 0, 0], [3, 4, 0, 0], [2, 4, 1, 0], [4, 0, 0, 0]])
    labels = np.array([1, 1, 0, 1, 0])
    ds = tf.data.Dataset.from_tensor_slices(({'ngram_ids': ids}, labels)).batch(2)
    matrix, got_labels = data.ngram_matrix(ds, 5)
    expected = np.zeros((5, 6))
    for i, row in enumerate(ids):
        expected[i, row[row > 0]] = 1  # binary: the repeated 2 counts once
    np.testing.assert_array_equal(matrix.toarray(), expected)
    np.testing.assert_array_equal(got_labels, labels)
    ratios = stacking.nb_ratios(matrix, labels)
    # From the binary bags: presence counts (the repeated 2 counts once), 1 added to each.
    p, q = expected[labels == 1, 1:].sum(0) + 1, expected[labels == 0, 1:].sum(0) + 1
    np.testing.assert_allclose(stacking.nb_ratios(matrix, labels),
                               [0, *np.log((p / p.sum()) / (q / q.sum()))], rtol=1e-5)
    weights, summary = stacking.fit_ngram_weights(matrix, labels, ratios, c=2.0)
    reference = LogisticRegression(C=2.0, solver='liblinear').fit(
        expected @ np.diag(ratios), labels)
    assert weights[0] == 0 and summary['c'] == 2.0
    np.testing.assert_allclose(weights[1:], reference.coef_.ravel()[1:], rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError):
        stacking.fit_ngram_weights(matrix, np.ones(5, 'int64'), ratios, c=1.0)


def test_fusion_weighs_the_informative_logit():
    from trainer import stacking
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 2000)
    informative = (2 * labels - 1) + rng.normal(0, 1.0, 2000) + 3.0  # off-centre: no intercept
    noise = rng.normal(0, 1.0, 2000)
    coefficients, intercept, summary = stacking.fit_fusion(noise, informative, labels)
    assert coefficients[1] > 1.0 and abs(coefficients[0]) < 0.2 * coefficients[1]
    assert intercept < -2.0  # takes the offset away
    assert summary['fused_accuracy'] > 0.8 and summary['fused_accuracy_cv'] > 0.8
    assert summary['ngram_accuracy'] > 0.8 and summary['lstm_accuracy'] < 0.6


def test_nb_ratios_follow_the_labels():
    from scipy import sparse
    from trainer import stacking
    matrix = sparse.csr_matrix(np.array([[0, 1, 1, 0], [0, 1, 0, 1], [0, 0, 0, 1]], 'float32'))
    ratios = stacking.nb_ratios(matrix, np.array([1, 1, 0]))
    assert ratios[0] == 0 and ratios[1] > 0 and ratios[2] > 0 and ratios[3] < ratios[2]


def test_config_is_validated():
    with pytest.raises(ValueError):
        ModelConfig(pooling='attention')
    with pytest.raises(ValueError):
        ModelConfig(dropout=1.0)


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
    network = _rebuilt_network(model)
    assert float(network.get_layer('fusion').intercept.numpy()) == pytest.approx(
        stacked['fusion']['intercept'] + refit['fusion_bias_shift'], abs=1e-5)
    # Where the time went: the recipe's parts, and the epoch's training and validation.
    timings = manifest['timings_s']
    assert set(timings['recipe_parts']) == {'ngram_regression', 'lstm', 'fusion', 'ngram_refit'}
    assert timings['recipe'] >= sum(timings['recipe_parts'].values()) - 0.5
    assert len(timings['epochs']) == 1 and timings['epochs'][0]['steps'] == -(
        -counts['train'] // manifest['config']['batch_size'])
    # The network rebuilt from its weights, on the eval split's TFRecords, read by sklearn.
    _, scores, labels = _eval_scores(network, trained['preprocess'])
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


def test_train_ends_on_the_headline_never_on_the_eval_fit(trained):
    from pipeline.jobs.train import summary_line
    manifest = json.load(open(os.path.join(trained['model'], schema.MANIFEST_FILE)))
    line = summary_line(manifest, 'out/model')
    assert line.startswith(f"Accuracy {manifest['headline']['accuracy']:.4f} on the eval "
                           'split, the fusion cross-validated')
    assert 'validation' not in line.lower() and 'training data' in line
    assert f"{manifest['eval_fit']['accuracy']:.4f}" not in line or (
        manifest['eval_fit']['accuracy'] == manifest['headline']['accuracy'])


_RELOAD = '''
import json, sys
import tensorflow as tf
texts = json.load(sys.stdin)
examples = [tf.train.Example(features=tf.train.Features(feature={'review': tf.train.Feature(
    bytes_list=tf.train.BytesList(value=[t.encode()]))})).SerializeToString() for t in texts]
served = []
for path in sys.argv[1:]:
    loaded = tf.saved_model.load(path)
    out = loaded.signatures['serving_default'](reviews=tf.constant(texts))
    by_example = loaded.signatures['serving_examples'](examples=tf.constant(examples))
    served.append({'p': out['probability'].numpy().tolist(),
                   'label': [x.decode() for x in out['label'].numpy()],
                   'p_examples': by_example['probability'].numpy().tolist(),
                   'modules': sorted(m for m in ('keras', 'tf_keras', 'tensorflow_transform')
                                     if m in sys.modules)})
print(json.dumps(served))
'''


def _rebuilt_network(model_dir):
    """The trained network, rebuilt from the manifest and its saved weights."""
    manifest = json.load(open(os.path.join(model_dir, schema.MANIFEST_FILE)))
    assert manifest['model']['inputs'] == ['token_ids', 'ngram_ids']
    return rebuild_network(model_dir)


def _eval_scores(network, data_dir):
    """``network`` on the eval split's TFRecords -> (review ids, P(positive), labels)."""
    from trainer import data
    ids, scores, labels = [], [], []
    for batch_ids, x, y in data.make_dataset(data_dir, 'eval', 64, with_ids=True):
        ids += [i.decode() for i in batch_ids.numpy()]
        scores += network(x, training=False).numpy().reshape(-1).tolist()
        labels += y.numpy().tolist()
    return ids, scores, labels


def test_export_serves_raw_text_without_the_preprocess_output(trained, tmp_path):
    """Training/serving skew: the trained network on the TFRecords vs the export on raw text.

    The fixture's folders stay as they are (other tests share them): the network is exported
    again, as the train job does, from a copy of the preprocess output that is then deleted;
    the job's export and this one both serve raw text."""
    import tensorflow_transform as tft
    from trainer import export
    network = _rebuilt_network(trained['model'])
    ids, scores, _ = _eval_scores(network, trained['preprocess'])
    texts = [trained['rows'][int(i.split(':')[1]) - 1][0] for i in ids]
    pre, again = str(tmp_path / 'preprocess'), str(tmp_path / 'model')
    shutil.copytree(trained['preprocess'], pre)
    export.export(network, tft.TFTransformOutput(pre), again)
    shutil.rmtree(pre)  # the export must not need it

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
    proc = subprocess.run([sys.executable, '-c', _RELOAD, trained['model'], again],
                          input=json.dumps(texts), capture_output=True, text=True, env=env,
                          check=True)
    for served in json.loads(proc.stdout.strip().splitlines()[-1]):
        assert len(served['p']) == len(texts) > 20
        np.testing.assert_allclose(served['p'], scores, atol=1e-5)
        np.testing.assert_allclose(served['p_examples'], scores, atol=1e-5)
        assert served['label'] == ['positive' if p > 0.5 else 'negative' for p in served['p']]
        assert 'keras' not in served['modules']  # loading needs no Keras at all


def test_export_serves_in_the_session_loader(trained, tmp_path):
    """TensorFlow Serving and ``saved_model_cli run`` load with the session (TF1) loader: it
    restores the checkpoint and runs the init op, which fills the tf.Transform tables from
    assets/. Both signatures give tf.saved_model.load's outputs, from a copy of the export
    in another folder (it reads no file outside itself)."""
    import tensorflow as tf
    model = shutil.copytree(trained['model'], str(tmp_path / 'moved'))
    # No ';' in the texts: saved_model_cli splits its input expressions there.
    texts = ['A wonderful, moving film!', 'Boring and awful. A waste.', '',
             'Très <b>bien</b> ♥ 日本語']
    expected = tf.saved_model.load(model).signatures['serving_default'](
        reviews=tf.constant(texts))
    inputs = {'serving_default': ['--input_exprs', f'reviews={texts!r}'],
              'serving_examples': ['--input_examples',
                                   f'examples={[{"review": [t]} for t in texts]!r}']}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
    for signature, args in inputs.items():
        out = tmp_path / signature
        proc = subprocess.run(
            [sys.executable, '-m', 'tensorflow.python.tools.saved_model_cli', 'run',
             '--dir', model, '--tag_set', 'serve', '--signature_def', signature, *args,
             '--outdir', str(out)], capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        np.testing.assert_allclose(np.load(out / 'probability.npy'),
                                   expected['probability'].numpy(), atol=1e-5)
        for key in ('label', 'num_tokens', 'num_oov'):
            assert np.load(out / f'{key}.npy', allow_pickle=True).tolist() == \
                expected[key].numpy().tolist(), (signature, key)


def test_predict_prints_label_and_probability(trained, monkeypatch, capsys):
    from transforms.beam.inference import Classifier
    texts = ['A wonderful, moving film!', 'Boring and awful. A waste.', 'third from stdin']
    monkeypatch.setattr(sys, 'stdin', io.StringIO(texts[2] + '\n\n'))
    assert cli.main(['predict', '--model', trained['model'], texts[0], texts[1], '-']) == 0
    lines = [l.split('\t') for l in capsys.readouterr().out.strip().splitlines()]
    probabilities, labels = Classifier(trained['model'])(texts)
    assert [l[0] for l in lines] == labels
    np.testing.assert_allclose([float(l[1]) for l in lines], probabilities, atol=1e-4)
    assert lines[2][2] == texts[2]


def test_train_and_predict_report_mistakes_in_one_line(tmp_path, capsys):
    assert cli.main(['train', '--data', str(tmp_path), '--output', str(tmp_path / 'm')]) == 2
    assert cli.main(['predict', '--model', str(tmp_path), 'text']) == 2
    err = capsys.readouterr().err
    assert 'no manifest.json' in err and 'no saved_model.pb' in err and 'Traceback' not in err


def test_cooccurrence_counts_pairs_within_the_window_and_ignores_padding():
    from trainer import embeddings
    ids = np.array([[1, 2, 3, 0, 0], [3, 1, 0, 0, 0]])
    counts = embeddings.cooccurrence([ids[:1], ids[1:]], num_ids=4, window=2).toarray()
    expected = np.zeros((4, 4))
    for a, b, weight in ((1, 2, 1.0), (2, 3, 1.0), (1, 3, 0.5), (3, 1, 1.0)):
        expected[a, b] += weight
        expected[b, a] += weight
    np.testing.assert_allclose(counts, expected)


def test_ppmi_svd_puts_words_used_alike_together():
    from trainer import embeddings
    rng = np.random.default_rng(0)
    # Words 1-2 appear with contexts 5-7, words 3-4 with contexts 8-10.
    rows = [[rng.choice([1, 2]) if i % 2 else rng.choice([5, 6, 7]) for i in range(12)]
            for _ in range(200)]
    rows += [[rng.choice([3, 4]) if i % 2 else rng.choice([8, 9, 10]) for i in range(12)]
             for _ in range(200)]
    counts = embeddings.cooccurrence([np.array(rows)], num_ids=12, window=2)
    vectors = embeddings.ppmi_svd(counts, dim=4, norm=0.5)
    assert vectors.shape == (12, 4) and not vectors[0].any() and not vectors[11].any()
    np.testing.assert_allclose(np.linalg.norm(vectors[1:11], axis=1), 0.5, rtol=1e-5)
    cos = lambda a, b: vectors[a] @ vectors[b] / 0.25
    assert cos(1, 2) > 0.9 and cos(3, 4) > 0.9 and cos(1, 3) < 0.5


def test_distillation_teaches_the_lstm_from_pseudo_labelled_unlabeled_reviews(tmp_path):
    from tests.conftest import TINY_MODEL
    from tests.datasets import generated_reviews, write_csv
    labelled = write_csv(str(tmp_path / 'l.csv'), generated_reviews(160, seed=5))
    unlabeled_rows = generated_reviews(90, seed=6)
    unlabeled = write_csv(str(tmp_path / 'u.csv'), [(t,) for t, _ in unlabeled_rows],
                          header=('review',))
    pre, model = str(tmp_path / 'pre'), str(tmp_path / 'model')
    assert cli.main(['preprocess', '--input', labelled, '--unlabeled', unlabeled,
                     '--output', pre, '--max-tokens', '32']) == 0
    assert cli.main(['train', '--data', pre, '--output', model, '--epochs', '1',
                     '--distill-unlabeled', *TINY_MODEL]) == 0
    manifest = json.load(open(os.path.join(model, schema.MANIFEST_FILE)))
    distilled = manifest['stacking']['distillation']
    assert distilled['unlabeled_reviews'] == 90
    # The generated reviews carry their sentiment in their words: the n-gram regression's
    # labels for them follow the true ones.
    truth = np.mean([label == 'positive' for _, label in unlabeled_rows])
    assert abs(distilled['pseudo_positive_share'] - truth) < 0.2
    assert len(manifest['history']['loss']) == 1


def test_every_config_field_has_help_text_shown_by_train_help(capsys):
    import dataclasses
    fields = dataclasses.fields(ModelConfig)
    missing = [f.name for f in fields if len(f.metadata.get('help', '').split()) < 5]
    assert not missing, f'fields without help text: {missing}'
    with pytest.raises(SystemExit) as stopped:
        cli.main(['train', '--help'])
    assert stopped.value.code == 0
    # argparse wraps lines: compare with every run of whitespace made one space.
    shown = ' '.join(capsys.readouterr().out.split())
    for field in fields:
        flag = '--' + field.name.replace('_', '-')
        help_text = ' '.join(field.metadata['help'].split())
        assert f'{help_text} (default {field.default})' in shown, flag
        assert flag in shown
