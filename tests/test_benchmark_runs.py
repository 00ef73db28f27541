"""Every benchmark that runs a job or trains a network, on a tiny input: the session's 240
generated reviews and their small model (``trained``), through ``python -m benchmarks NAME``.
Everything is written under tmp_path, never into benchmarks/results/. The quick ones, and the
import of every module, are tests/benchmarks/test_benchmarks.py.
"""

import os

import pytest

from benchmarks import __main__ as entry
from tests.support.benchmark_results import benchmark_result
from tests.support.datasets import write_csv

pytestmark = pytest.mark.e2e


@pytest.fixture(scope='module')
def scale_inputs(trained, tmp_path_factory):
    folder = tmp_path_factory.mktemp('scale')
    assert entry.main(['scale_data', '--source', trained['csv'], '--rows', '60',
                       '--out', str(folder)]) == 0
    return str(folder)


def test_preprocess_speed(trained, tmp_path):
    out = tmp_path / 'p.json'
    assert entry.main(['preprocess_speed', '--input', trained['csv'], '--out', str(out)]) == 0
    run = benchmark_result(out)['runs'][0]
    assert run['job']['counts']['read'] == run['plain_pass']['counts']['reviews'] == 240
    assert run['job_over_plain'] > 0


def test_score_speed_and_throughput(trained, tmp_path):
    argv = ['--model', trained['model'], '--out', str(tmp_path / 'speed.json')]
    assert entry.main(['score_speed', *argv, '--input', trained['csv'], '--repeats', '1']) == 0
    speed = benchmark_result(tmp_path / 'speed.json')
    assert {r[0]['reviews'] for r in speed['runs'].values()} == {240}
    assert set(speed['speed_over_loop']) == {'job', 'job_no_explain'}
    argv[-1] = str(tmp_path / 'throughput.json')
    assert entry.main(['score_throughput', *argv, '--set', f'tiny={trained["csv"]}']) == 0
    throughput = benchmark_result(tmp_path / 'throughput.json')
    assert throughput['sets']['tiny']['reviews'] == throughput['in_process_predict']['reviews']


def test_training(trained, tmp_path):
    assert entry.main(['training', '--data', trained['preprocess'], '--model', trained['model'],
                       '--steps', '2', '--warmup', '1', '--out', str(tmp_path / 't.json')]) == 0
    result = benchmark_result(tmp_path / 't.json')
    assert result['breakdown']['epochs_run'] == 1
    assert result['input_bound']['over_plain_keras']['plain_keras_fit'] == 1.0


def test_scale_and_id_check(trained, scale_inputs, tmp_path):
    assert entry.main(['scale', '--model', trained['model'], '--data', scale_inputs,
                       '--work', str(tmp_path / 'work'), '--preprocess', '60', '--score', '60',
                       '--out', str(tmp_path / 'scale.json')]) == 0
    jobs = benchmark_result(tmp_path / 'scale.json')['jobs']
    assert [jobs[j]['runs'][0]['read'] for j in ('preprocess', 'score')] == [60, 60]
    assert entry.main(['id_check', '--data', scale_inputs, '--rows', '60',
                       '--out', str(tmp_path / 'ids.json')]) == 0
    assert benchmark_result(tmp_path / 'ids.json')['runs'][0]['counts']['read'] == 60


def test_version_skew_without_the_resolver(trained, tmp_path):
    assert entry.main(['version_skew', '--model', trained['model'], '--input', trained['csv'],
                       '--job', 'score', '--no-pin', '--out', str(tmp_path / 'v.json')]) == 0
    used = benchmark_result(tmp_path / 'v.json')['jobs']['score']['used']
    assert any('ParDo' in urn or 'pardo' in urn for urns in used.values() for urn in urns)


def test_reexport_model(trained, tmp_path):
    assert entry.main(['reexport_model', '--model', trained['model'], '--out',
                       str(tmp_path / 'again'), '--check', trained['csv']]) == 0
    assert os.path.exists(tmp_path / 'again' / 'saved_model.pb')


def test_accuracy_and_its_levers(trained, tmp_path):
    """The default recipe (the levers need its config and an unlabeled split) on 480 reviews
    of 120 movies."""
    data = tmp_path / 'data'
    data.mkdir()
    rows = trained['rows'] + [(f'{text} Again.', label) for text, label in trained['rows']]
    write_csv(str(data / 'train.csv'), rows)
    with open(data / 'train_movies.csv', 'w', encoding='utf-8') as f:
        f.write('row,movie\n' + ''.join(f'{i},m{i // 4}\n' for i in range(1, len(rows) + 1)))
    unlabeled = write_csv(str(data / 'unsup.csv'), [(f'{text} Later.',) for text, _ in rows[:120]],
                             header=('review',))
    work, default = str(tmp_path / 'work'), str(tmp_path / 'accuracy-default.json')
    assert entry.main(['accuracy', '--data-dir', str(data), '--work', work, '--out', default,
                       '--preprocess-arg=--max-tokens=32',
                       f'--preprocess-arg=--unlabeled={unlabeled}']) == 0
    accuracy = benchmark_result(default)
    assert accuracy['split']['test']['reviews'] + accuracy['split']['train']['reviews'] \
        + accuracy['split']['eval']['reviews'] == len(rows)
    assert {'nb_lr', 'tfidf_lr'} <= set(accuracy['baselines'])
    levers = ['--work', work, '--data-dir', str(data)]
    for stage in (['prepare'], ['seed', '--seed', '43'], ['salvage', '--seed', '43'],
                  ['refit', '--seed', '42'], ['extra']):
        assert entry.main(['accuracy_levers', *stage, *levers]) == 0, stage
    out = str(tmp_path / 'levers.json')
    assert entry.main(['accuracy_levers', 'compare', *levers, '--baseline', default,
                       '--out', out]) == 0
    candidates = {c['name']: c for c in benchmark_result(out)['candidates']}
    assert candidates['default']['export_check']['labels_differing'] == 0
    assert {'refit_lstm', 'seeds_2', 'plus_tfidf', 'sklearn_nb_lr'} <= set(candidates)
