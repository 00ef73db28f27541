"""Nightly scoring: date partitions, idempotent reruns, versioned models, drift, and nights
that survive a damaged neighbour."""

import json
import logging
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from tests.support import nights as fake_nights
from tests.support.read import read_json, read_jsonl
from analysis import drift
from pipeline import cli, registry
from pipeline import model_lookup, nightly
from pipeline.jobs import score
from tests.support.datasets import generated_reviews, write_csv
from transforms.tft.cleaning import CleaningConfig, tokenize
from transforms.errors import InputError, ModelError
from transforms import schema



def _ids(partition):
    return sorted(r['id'] for r in read_jsonl(os.path.join(partition, 'predictions', '*.jsonl')))


_json = read_json


def test_parse_date():
    assert nightly.parse_date('2026-02-28') == '2026-02-28'
    assert nightly.parse_date('today') == nightly.today_utc()
    for bad in ('2026-02-30', '26-2-1', 'yesterday', '2026-02-28T00:00'):
        with pytest.raises(InputError, match='YYYY-MM-DD'):
            nightly.parse_date(bad)
    for bad in ('2026-11-01..2026-11-31', '2026-1-01..2026-11-03', 'today..soon'):
        with pytest.raises(InputError, match=r'^--dates .*YYYY-MM-DD') as found:
            nightly.date_range(bad)
        assert '--date ' not in str(found.value)


def test_date_in_output_is_refused_without_a_date(tmp_path, capsys):
    assert nightly.dated_output('s/{date}/x', '2026-11-01') == 's/2026-11-01/x'
    out = str(tmp_path / 'scores-{date}')
    assert cli.main(['score', '--input', str(tmp_path / 'r.csv'), '--model', str(tmp_path),
                     '--output', out]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and '--output' in err and '--date' in err
    assert os.listdir(tmp_path) == []


def _damage(part, what):
    if what == 'empty manifest':
        with open(os.path.join(part, 'manifest.json'), 'w') as f:
            f.write('[]')
    elif what == 'no metrics':
        os.remove(os.path.join(part, 'metrics.json'))
    else:
        with open(os.path.join(part, 'metrics.json'), 'w') as f:
            f.write('{"score_histograms": {"positive": [1, 2')


def test_drift_skips_damaged_nights_and_names_them(tmp_path):
    root = str(tmp_path / 'scores')
    for day in (1, 2, 3, 4):
        fake_nights.publish(root, f'2026-11-0{day}', seed=day)
    _damage(os.path.join(root, 'dt=2026-11-02'), 'corrupt metrics')
    _damage(os.path.join(root, 'dt=2026-11-03'), 'empty manifest')
    _damage(os.path.join(root, 'dt=2026-11-04'), 'no metrics')
    found = nightly.previous_night(root, '2026-11-05')
    assert found.date == '2026-11-01'
    assert [d for d, _ in found.skipped] == ['2026-11-04', '2026-11-03', '2026-11-02']
    assert 'no metrics.json' in found.skipped[0][1]
    assert 'not a JSON object' in found.skipped[1][1]
    part, manifest = fake_nights.publish(root, '2026-11-05', seed=5)
    written = _json(os.path.join(part, 'drift.json'))
    assert written['previous_date'] == '2026-11-01'
    assert [s['date'] for s in written['skipped']] == ['2026-11-04', '2026-11-03', '2026-11-02']
    assert manifest['drift']['previous_date'] == '2026-11-01'
    html = open(os.path.join(part, 'report.html'), encoding='utf-8').read()
    assert 'Drift since 2026-11-01' in html and 'skipped the damaged 2026-11-04' in html


def test_a_drift_is_stale_once_a_night_before_it_comes_or_changes(tmp_path):
    root = str(tmp_path / 'scores')
    fake_nights.publish(root, '2026-11-01', seed=1)
    _, third = fake_nights.publish(root, '2026-11-03', seed=3)
    assert nightly.stale_drift(root, '2026-11-03', third) is None
    second, _ = fake_nights.publish(root, '2026-11-02', seed=2)  # another process's night
    assert nightly.stale_drift(root, '2026-11-03', third) == (
        'its drift compared with 2026-11-01, the night before is now 2026-11-02')
    shutil.rmtree(os.path.join(root, 'dt=2026-11-03'))
    _, third = fake_nights.publish(root, '2026-11-03', seed=3)
    assert nightly.stale_drift(root, '2026-11-03', third) is None
    shutil.rmtree(second)  # the 2nd scored again: the same date, another run
    fake_nights.publish(root, '2026-11-02', seed=2, created='2026-11-09T00:00:00+00:00')
    assert 'was scored again' in nightly.stale_drift(root, '2026-11-03', third)
    # A drift recorded before it named the run it read: the date alone decides.
    assert nightly.stale_drift(root, '2026-11-03', {'drift': {'previous_date': '2026-11-02'}}) \
        is None


def _version(root, name, model, created, status='ok'):
    path = os.path.join(root, name)
    shutil.copytree(model, path)
    manifest = _json(os.path.join(path, 'manifest.json'))
    manifest.update(created=created, status=status)
    with open(os.path.join(path, 'manifest.json'), 'w') as f:
        json.dump(manifest, f)
    return path


@pytest.mark.e2e
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


@pytest.mark.e2e
def test_each_night_has_its_partition(nights):
    parts = sorted(os.listdir(nights['out']))
    assert parts == ['dt=2026-11-20', 'dt=2026-11-21', 'dt=2026-11-23',
                     'history.json', 'history.lock', 'index.html']  # and the nights' history
    first = os.path.join(nights['out'], 'dt=2026-11-20')
    assert len(_ids(first)) == 60 and _ids(first)[0].startswith('n1.csv:')
    assert not os.path.exists(os.path.join(first, 'drift.json'))  # no earlier night
    assert _json(os.path.join(first, 'manifest.json'))['date'] == '2026-11-20'


@pytest.mark.e2e
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


@pytest.mark.e2e
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


@pytest.mark.e2e
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


@pytest.mark.e2e
def test_a_night_after_damaged_nights_compares_with_the_last_readable_one(nights, tmp_path,
                                                                        caplog):
    caplog.set_level(logging.INFO, logger='pipeline.jobs.score')
    out = str(tmp_path / 'scores')
    shutil.copytree(nights['out'], out)
    _damage(os.path.join(out, 'dt=2026-11-23'), 'empty manifest')
    _damage(os.path.join(out, 'dt=2026-11-21'), 'corrupt metrics')
    argv = ['score', '--input', nights['inputs'][0], '--date', '2026-11-24', '--model',
            nights['model'], '--output', out, '--no-explain']
    for _ in range(2):  # and a retry
        assert cli.main(argv) == 0
        found = _json(os.path.join(out, 'dt=2026-11-24', 'drift.json'))
        assert found['previous_date'] == '2026-11-20'
        assert [s['date'] for s in found['skipped']] == ['2026-11-23', '2026-11-21']
    assert 'skipped the damaged night 2026-11-23' in caplog.text
    rows = _json(os.path.join(out, 'history.json'))['nights']
    assert [(r['date'], r['status']) for r in rows] == [
        ('2026-11-20', 'ok'), ('2026-11-21', 'ok'), ('2026-11-23', 'damaged'),
        ('2026-11-24', 'ok')]
    assert rows[-1]['compared_with'] == '2026-11-20'


@pytest.mark.e2e
def test_drift_compares_with_a_night_published_while_this_one_ran(nights, tmp_path,
                                                                  monkeypatch):
    """Another process publishes the night before while this night is scored: the drift
    is found as the night publishes, so it compares with that night."""
    out = str(tmp_path / 'scores')
    os.makedirs(out)
    shutil.copytree(os.path.join(nights['out'], 'dt=2026-11-20'),
                    os.path.join(out, 'dt=2026-11-20'))
    take = score.take_reviews

    def neighbour_arrives(*args, **kwargs):
        shutil.copytree(os.path.join(nights['out'], 'dt=2026-11-21'),
                        os.path.join(out, 'dt=2026-11-21'))
        return take(*args, **kwargs)

    monkeypatch.setattr(score, 'take_reviews', neighbour_arrives)
    assert cli.main(['score', '--input', nights['inputs'][2], '--date', '2026-11-22',
                     *nights['common'][:2], '--output', out, '--no-explain']) == 0
    assert _json(os.path.join(out, 'dt=2026-11-22', 'drift.json'))['previous_date'] == \
        '2026-11-21'


@pytest.mark.e2e
def test_with_no_champion_a_version_the_gate_refused_is_never_served(trained, tmp_path,
                                                                     capsys, caplog):
    caplog.set_level(logging.INFO, logger='pipeline.model_lookup')
    models = str(tmp_path / 'models')
    for number in (1, 2):
        shutil.copytree(trained['model'], registry.version_path(models, number))
    registry.record_verdict(models, 2, {'blessed': False})
    with pytest.raises(ModelError, match='version, 2, is not blessed.*models promote'):
        model_lookup.resolve_model(models)
    assert cli.main(['score', '--input', trained['csv'], '--model', models, '--output',
                     str(tmp_path / 'scores'), '--date', '2026-11-01']) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'promote' in err
    assert not os.path.exists(tmp_path / 'scores' / 'dt=2026-11-01')
    os.remove(os.path.join(models, registry.VERDICTS_DIR, '2.json'))  # never evaluated
    assert model_lookup.resolve_model(models) == registry.version_path(models, 2)
    assert 'using its newest version, 2, never evaluated' in caplog.text
    # Evaluation's own look-up (champion=False) still takes the newest candidate.
    registry.record_verdict(models, 2, {'blessed': False})
    assert model_lookup.resolve_model(models, champion=False) == \
        registry.version_path(models, 2)
