"""Nightly scoring: date partitions, idempotent reruns, versioned models, drift."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from tests.support.read import read_json, read_jsonl
from analysis import drift
from pipeline import cli
from pipeline import model_lookup, nightly
from tests.support.datasets import generated_reviews, write_csv
from transforms.tft.cleaning import CleaningConfig, tokenize
from transforms.errors import InputError, ModelError
from transforms import schema

pytestmark = pytest.mark.e2e


def _ids(partition):
    return sorted(r['id'] for r in read_jsonl(os.path.join(partition, 'predictions', '*.jsonl')))


_json = read_json


def test_parse_date():
    assert nightly.parse_date('2026-02-28') == '2026-02-28'
    assert nightly.parse_date('today') == nightly.today_utc()
    for bad in ('2026-02-30', '26-2-1', 'yesterday', '2026-02-28T00:00'):
        with pytest.raises(InputError, match='YYYY-MM-DD'):
            nightly.parse_date(bad)


def _version(root, name, model, created, status='ok'):
    path = os.path.join(root, name)
    shutil.copytree(model, path)
    manifest = _json(os.path.join(path, 'manifest.json'))
    manifest.update(created=created, status=status)
    with open(os.path.join(path, 'manifest.json'), 'w') as f:
        json.dump(manifest, f)
    return path


def test_newest_complete_model_is_chosen(trained, tmp_path):
    root = str(tmp_path / 'models')
    assert model_lookup.resolve_model(trained['model']) == trained['model']
    _version(root, 'v1', trained['model'], '2026-11-20T01:00:00+00:00')
    newest = _version(root, 'v2', trained['model'], '2026-11-22T01:00:00+00:00')
    # Later, but not complete: a staging leftover, a failed run, a folder with no manifest.
    _version(root, 'v3.partial-0123abcd', trained['model'], '2026-11-23T01:00:00+00:00')
    _version(root, 'v4', trained['model'], '2026-11-24T01:00:00+00:00', status='failed')
    os.remove(os.path.join(_version(root, 'v5', trained['model'], '2026-11-25T00:00:00+00:00'),
                           'manifest.json'))
    assert model_lookup.resolve_model(root) == newest
    with pytest.raises(ModelError, match='no saved_model.pb'):
        model_lookup.resolve_model(str(tmp_path))


def test_psi_and_score_distribution():
    uniform = {'score_histograms': {'positive': [1] * 1000, 'negative': [0] * 1000}}
    np.testing.assert_allclose(drift.score_distribution(uniform), [0.1] * 10)
    skewed = {'score_histograms': {schema.UNLABELED: [0] * 900 + [1] * 100}}
    assert drift.score_distribution(skewed)[-1] == 1.0
    assert drift.psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    expected = (0.7 - 0.5) * np.log(0.7 / 0.5) + (0.3 - 0.5) * np.log(0.3 / 0.5)
    assert drift.psi([0.5, 0.5], [0.7, 0.3]) == pytest.approx(expected)
    assert drift.psi_reading(0.05) == 'stable' and drift.psi_reading(0.3) == 'major shift'


@pytest.fixture(scope='module')
def nights(trained, tmp_path_factory):
    """Three nights: two alike, then one of mostly negative, shorter reviews."""
    root = tmp_path_factory.mktemp('nightly')
    out = str(root / 'scores')
    first = write_csv(str(root / 'n1.csv'), generated_reviews(60, seed=11))
    second = write_csv(str(root / 'n2.csv'), generated_reviews(60, seed=12))
    negative = [r for r in generated_reviews(200, seed=13) if r[1] == 'negative'][:50]
    third = write_csv(str(root / 'n3.csv'), [(t + ' zyzzyva qwxz', s) for t, s in negative])
    common = ['--model', trained['model'], '--output', out, '--no-explain']
    for date, path in (('2026-11-20', first), ('2026-11-21', second), ('2026-11-23', third)):
        assert cli.main(['score', '--input', path, '--date', date, *common]) == 0
    return {'out': out, 'inputs': (first, second, third), 'common': common, 'model': trained['model']}


def test_each_night_has_its_partition(nights):
    parts = sorted(os.listdir(nights['out']))
    assert parts == ['dt=2026-11-20', 'dt=2026-11-21', 'dt=2026-11-23',
                     'history.json', 'history.lock', 'index.html']  # and the nights' history
    first = os.path.join(nights['out'], 'dt=2026-11-20')
    assert len(_ids(first)) == 60 and _ids(first)[0].startswith('n1.csv:')
    assert not os.path.exists(os.path.join(first, 'drift.json'))  # no earlier night
    assert _json(os.path.join(first, 'manifest.json'))['date'] == '2026-11-20'


def test_drift_compares_with_the_previous_available_night(nights):
    part = os.path.join(nights['out'], 'dt=2026-11-23')
    found = _json(os.path.join(part, 'drift.json'))
    assert found['previous_date'] == '2026-11-21'  # the 22nd did not run
    now = _json(os.path.join(part, 'metrics.json'))
    before = _json(os.path.join(nights['out'], 'dt=2026-11-21', 'metrics.json'))
    assert found['score_psi']['value'] == pytest.approx(
        drift.psi(drift.score_distribution(before), drift.score_distribution(now)))
    assert found['positive_rate']['current'] == pytest.approx(now['positive_rate'])
    assert found['positive_rate']['change'] == pytest.approx(
        now['positive_rate'] - before['positive_rate'])
    # Made-up words the vocabulary cannot know lower the coverage.
    assert found['vocabulary_coverage']['change'] < 0
    html = open(os.path.join(part, 'report.html'), encoding='utf-8').read()
    assert 'id="drift"' in html and 'Drift since 2026-11-21' in html
    middle = _json(os.path.join(nights['out'], 'dt=2026-11-21', 'drift.json'))
    assert middle['previous_date'] == '2026-11-20'


def test_vocabulary_coverage_matches_a_direct_count(nights):
    metrics = _json(os.path.join(nights['out'], 'dt=2026-11-20', 'metrics.json'))
    with open(os.path.join(nights['model'], 'assets', 'vocab'), encoding='utf-8') as f:
        vocabulary = set(f.read().split('\n')) - {''}
    with open(nights['inputs'][0], encoding='utf-8') as f:
        import csv
        texts = [row['review'] for row in csv.DictReader(f)]
    tokens = [t.decode() for t in tokenize(tf.constant(texts), CleaningConfig()).flat_values.numpy()]
    expected = sum(t in vocabulary for t in tokens) / len(tokens)
    assert metrics['vocabulary_coverage'] == pytest.approx(expected)


def test_rerunning_a_date_replaces_the_partition(nights, tmp_path):
    part = os.path.join(nights['out'], 'dt=2026-11-21')
    with open(os.path.join(part, 'stale-marker'), 'w') as f:
        f.write('from an earlier run')
    # A rerun with a model that cannot load is refused before any work (exit 2): the night
    # stays as it was.
    broken = str(tmp_path / 'broken')
    os.makedirs(broken)
    with open(os.path.join(broken, 'saved_model.pb'), 'wb') as f:
        f.write(b'not a model')
    argv = ['score', '--input', nights['inputs'][0], '--date', '2026-11-21', '--model', broken,
            '--output', nights['out'], '--no-explain']
    assert cli.main(argv) == 2
    assert os.path.exists(os.path.join(part, 'stale-marker'))
    assert _ids(part)[0].startswith('n2.csv:')
    # A successful rerun with other input replaces it whole.
    assert cli.main(['score', '--input', nights['inputs'][0], '--date', '2026-11-21',
                     *nights['common']]) == 0
    assert not os.path.exists(os.path.join(part, 'stale-marker'))
    assert _ids(part)[0].startswith('n1.csv:') and len(_ids(part)) == 60
    leftovers = [n for n in os.listdir(nights['out'])
                 if not n.startswith(('dt=2026-11-2', 'history.', 'index.html'))
                 or '.partial-' in n or '.old-' in n or '.trash-' in n]
    assert leftovers == []
