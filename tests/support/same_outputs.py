"""Outputs of the same job on two runners, read back and compared.

Used to hold a cluster run to the DirectRunner's results: the vocabulary and transform assets
byte for byte, every transformed example, the counts, the predictions within a tolerance (sums
may run in another order on other runners) and the metrics.
"""

import glob
import json
import os

import pytest

from transforms import schema


def read_json(path):
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def read_jsonl(pattern):
    rows = []
    for path in sorted(glob.glob(pattern)):
        with open(path, encoding='utf-8') as f:
            rows.extend(json.loads(line) for line in f)
    return rows


def _value(tensor):
    import tensorflow as tf
    if isinstance(tensor, tf.SparseTensor):
        tensor = tensor.values
    value = tensor.numpy()
    return value.tolist() if hasattr(value, 'tolist') else value


def examples(out, prefix):
    """id -> every transformed feature of the ``prefix`` split, as plain Python values."""
    import tensorflow as tf
    import tensorflow_transform as tft
    spec = tft.TFTransformOutput(out).transformed_feature_spec()
    files = sorted(glob.glob(os.path.join(out, f'{prefix}-*{schema.TFRECORD_SUFFIX}')))
    data = tf.data.TFRecordDataset(files, compression_type='GZIP').map(
        lambda x: tf.io.parse_single_example(x, spec))
    return {e[schema.ID_KEY].numpy().decode(): {k: _value(v) for k, v in e.items()}
            for e in data}


def assets(out):
    """The transform graph's asset files (the vocabularies), name -> bytes."""
    folder = os.path.join(out, 'transform_fn', 'assets')
    found = {}
    for name in os.listdir(folder):
        with open(os.path.join(folder, name), 'rb') as f:
            found[name] = f.read()
    return found


def assert_close(a, b, tol, where='metrics'):
    """Equal structures; numbers within ``tol``."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_close(a[key], b[key], tol, f'{where}.{key}')
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_close(x, y, tol, f'{where}[{i}]')
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, abs=tol, nan_ok=True), where
    else:
        assert a == b, where


def assert_same_preprocess(expected, actual):
    """Same vocabulary, assets, examples and counts. Returns the expected manifest."""
    vocab = lambda out: open(os.path.join(out, schema.VOCAB_FILE), encoding='utf-8').read()
    assert vocab(actual) == vocab(expected) and len(vocab(expected).splitlines()) > 10
    assert assets(actual) == assets(expected)
    a, b = (read_json(os.path.join(out, schema.MANIFEST_FILE)) for out in (expected, actual))
    for prefix in (schema.TRAIN_PREFIX, schema.EVAL_PREFIX):
        wanted = examples(expected, prefix)
        assert len(wanted) == a['counts'][prefix] > 0
        assert examples(actual, prefix) == wanted
    assert b['status'] == a['status'] == 'ok'
    assert b['counts'] == a['counts']
    assert b['vocabulary'] == a['vocabulary']
    return a


def assert_same_score(expected, actual, tol=1e-6):
    """Same predictions (probabilities within ``tol``), metrics and counts. Returns the number
    of predictions."""
    preds = [{p['id']: p for p in read_jsonl(os.path.join(out, 'predictions', '*.jsonl'))}
             for out in (expected, actual)]
    assert preds[1].keys() == preds[0].keys() and preds[0]
    for key, want in preds[0].items():
        got = preds[1][key]
        assert got['probability'] == pytest.approx(want['probability'], abs=tol), key
        assert {k: v for k, v in got.items() if k != 'probability'} == \
            {k: v for k, v in want.items() if k != 'probability'}
    metrics = [read_json(os.path.join(out, schema.METRICS_FILE)) for out in (expected, actual)]
    assert_close(metrics[1], metrics[0], tol)
    manifests = [read_json(os.path.join(out, schema.MANIFEST_FILE)) for out in (expected, actual)]
    assert manifests[1]['counts'] == manifests[0]['counts']
    return len(preds[0])


def assert_same_explore(expected, actual, tol=1e-9):
    """Same statistics (numbers within ``tol``: sums may run in another order) and counts.
    Returns the expected statistics."""
    stats = [read_json(os.path.join(out, 'stats.json')) for out in (expected, actual)]
    assert_close(stats[1], stats[0], tol, 'stats')
    manifests = [read_json(os.path.join(out, schema.MANIFEST_FILE)) for out in (expected, actual)]
    assert manifests[1]['status'] == manifests[0]['status'] == 'ok'
    assert manifests[1]['counts'] == manifests[0]['counts']
    return stats[0]
