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

from pipeline import cli
from trainer.config import ModelConfig
from trainer.model import build_model
from transforms import features



@pytest.mark.parametrize('pooling', ['last', 'mean', 'max_mean'])
def test_model_shapes_and_padding_is_masked(pooling):
    model = build_model(ModelConfig(embedding_dim=4, lstm_units=3, dense_units=4,
                                    pooling=pooling), vocab_ids=20, max_tokens=6, ngram_ids=9)
    assert model.output_shape == (None, 1)
    ids = {'token_ids': np.array([[3, 4, 5, 0, 0, 0], [7, 0, 0, 0, 0, 0]], dtype='int64'),
           'ngram_ids': np.array([[1, 5, 9, 0], [2, 0, 0, 0]], dtype='int64')}
    model.get_layer('ngram_bag').kernel.assign(np.linspace(-1, 1, 10, dtype='float32'))
    before = model.predict(ids, verbose=0)
    embedding = model.get_layer('embedding')
    weights = embedding.get_weights()[0]
    weights[0] = 50.0  # the padding row: masked positions must not matter
    embedding.set_weights([weights])
    np.testing.assert_allclose(model.predict(ids, verbose=0), before, atol=1e-6)
    bag = model.get_layer('ngram_bag')
    kernel = bag.kernel.numpy()
    kernel[0] = 50.0  # n-gram padding must not matter either
    bag.kernel.assign(kernel)
    np.testing.assert_allclose(model.predict(ids, verbose=0), before, atol=1e-6)
    assert ((before > 0) & (before < 1)).all()


def test_ngram_branch_is_off_without_ngram_ids_or_by_flag():
    for config, ngram_ids in ((ModelConfig(), 0), (ModelConfig(ngram_branch=False), 9)):
        model = build_model(config, vocab_ids=20, max_tokens=6, ngram_ids=ngram_ids)
        assert list(model.input) == ['token_ids']
        assert 'ngram_bag' not in [layer.name for layer in model.layers]


def test_nb_ratios_follow_the_labels():
    import tensorflow as tf
    from trainer import data
    x = {'ngram_ids': tf.constant([[1, 2], [1, 3], [3, 0]], tf.int64)}
    ratios = data.ngram_ratios(tf.data.Dataset.from_tensors((x, tf.constant([1, 1, 0]))), 3)
    assert ratios[0] == 0 and ratios[1] > 0 and ratios[2] > 0 and ratios[3] < ratios[2]


def test_config_is_validated():
    with pytest.raises(ValueError):
        ModelConfig(pooling='attention')
    with pytest.raises(ValueError):
        ModelConfig(dropout=1.0)


def test_one_epoch_writes_model_history_plots_and_manifest(trained):
    model = trained['model']
    manifest = json.load(open(os.path.join(model, features.MANIFEST_FILE)))
    assert manifest['status'] == 'ok' and manifest['epochs_run'] == 1 and manifest['best_epoch'] == 1
    assert manifest['config']['lstm_units'] == 8
    assert manifest['preprocess']['manifest']['counts']['train'] > 150
    assert 0.0 <= manifest['validation']['accuracy'] <= 1.0
    history = list(csv.DictReader(open(os.path.join(model, 'history.csv'))))
    assert len(history) == 1 and float(history[0]['learning_rate']) == pytest.approx(1e-3)
    for name in ('accuracy', 'loss', 'learning_rate', 'overfitting_gap'):
        assert os.path.getsize(os.path.join(model, 'plots', f'{name}.png')) > 1000
    assert os.path.exists(os.path.join(model, 'checkpoints', 'epoch-01.weights.h5'))
    assert os.listdir(os.path.join(model, 'logs'))


_RELOAD = '''
import json, sys
import tensorflow as tf
texts = json.load(sys.stdin)
loaded = tf.saved_model.load(sys.argv[1])
out = loaded.signatures['serving_default'](reviews=tf.constant(texts))
examples = [tf.train.Example(features=tf.train.Features(feature={'review': tf.train.Feature(
    bytes_list=tf.train.BytesList(value=[t.encode()]))})).SerializeToString() for t in texts]
by_example = loaded.signatures['serving_examples'](examples=tf.constant(examples))
print(json.dumps({'p': out['probability'].numpy().tolist(),
                  'label': [x.decode() for x in out['label'].numpy()],
                  'p_examples': by_example['probability'].numpy().tolist(),
                  'modules': sorted(m for m in ('keras', 'tf_keras', 'tensorflow_transform')
                                    if m in sys.modules)}))
'''


def test_export_serves_raw_text_without_the_preprocess_output(trained, tmp_path):
    """Training/serving skew: the trained network on the TFRecords vs the export on raw text."""
    from trainer import data
    pre = str(tmp_path / 'preprocess')
    shutil.copytree(trained['preprocess'], pre)
    manifest = json.load(open(os.path.join(trained['model'], features.MANIFEST_FILE)))
    network = build_model(ModelConfig(**manifest['config']), manifest['model']['token_ids'],
                          manifest['model']['max_tokens'], manifest['model']['ngram_ids'])
    assert manifest['model']['inputs'] == ['token_ids', 'ngram_ids']
    network.load_weights(os.path.join(trained['model'], 'checkpoints', 'epoch-01.weights.h5'))
    ids, scores = [], []
    for batch_ids, x, _ in data.make_dataset(pre, 'eval', 64, with_ids=True):
        ids += [i.decode() for i in batch_ids.numpy()]
        scores += network(x, training=False).numpy().reshape(-1).tolist()
    texts = [trained['rows'][int(i.split(':')[1]) - 1][0] for i in ids]

    shutil.rmtree(pre)
    shutil.rmtree(trained['preprocess'])  # the export must not need it
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
    proc = subprocess.run([sys.executable, '-c', _RELOAD, trained['model']], input=json.dumps(texts),
                          capture_output=True, text=True, env=env, check=True)
    served = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(served['p']) == len(texts) > 20
    np.testing.assert_allclose(served['p'], scores, atol=1e-5)
    np.testing.assert_allclose(served['p_examples'], scores, atol=1e-5)
    assert served['label'] == ['positive' if p > 0.5 else 'negative' for p in served['p']]
    assert 'keras' not in served['modules']  # loading needs no Keras at all


def test_predict_prints_label_and_probability(trained, monkeypatch, capsys):
    from trainer.export import Classifier
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
