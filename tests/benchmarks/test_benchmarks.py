"""Every benchmark imports without editing the import path, is listed with the question it
answers (``python -m benchmarks``), and runs on a tiny input. The fast loop runs the ones that
take seconds (start-up, the scale inputs, the memory plot, the cluster benchmark's plan); the ones
that run a job or train a network are e2e, on the session's 240 generated reviews and their small
model (``trained``). Everything is written under tmp_path, never into benchmarks/results/.
"""

import csv
import importlib
import json
import os
import sys

import pytest

import benchmarks
from benchmarks import __main__ as entry
from tests.support.benchmark_results import benchmark_result
from tests.support.datasets import write_csv


MODULES = sorted(name[:-3] for name in os.listdir(os.path.dirname(benchmarks.__file__))
                 if name.endswith('.py') and not name.startswith('__'))


LISTED = benchmarks.BENCHMARKS + benchmarks.TOOLS


@pytest.mark.parametrize('name', MODULES)
def test_every_module_imports_and_edits_no_import_path(name):
    module = importlib.import_module(f'benchmarks.{name}')
    with open(module.__file__, encoding='utf-8') as f:
        assert 'sys.path' not in f.read(), name
    assert callable(getattr(module, 'main', None)) == (name in LISTED), name


def test_the_list_names_every_benchmark_with_its_question(capsys):
    assert entry.main([]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()
             if line.startswith('  ')}
    assert list(lines) == list(LISTED)
    for name, line in lines.items():
        assert entry.summary(name) and line.endswith(entry.summary(name)), name
    assert all(entry.summary(name).endswith('?') for name in benchmarks.BENCHMARKS)
    assert entry.main(['no_such_benchmark']) == 2


def test_the_peak_memory_of_a_job_counts_all_its_processes():
    from benchmarks import common
    hold = 'import time; x = b"x" * (200 << 20); time.sleep(3)'
    run = common.run_timed(['/bin/sh', '-c', f"{sys.executable} -c '{hold}' & "
                                             f"{sys.executable} -c '{hold}'; wait"])
    assert run.peak_rss_mb >= 2 * 200   # time(1) alone says about 200: the largest process


def test_startup(tmp_path):
    assert entry.main(['startup', '--runs', '1', '--command', 'score', '--command', 'train',
                       '--out', str(tmp_path / 's.json')]) == 0
    result = benchmark_result(tmp_path / 's.json')
    assert set(result['help']) == {'(none)', 'score', 'train'}
    assert all(0 < r['min_s'] <= r['max_s'] for r in result['help'].values())


def test_scale_data(tmp_path):
    source = write_csv(str(tmp_path / 'src.csv'), [('good film', 'positive'), ('bad one', ''),
                                                 ('dull plot', 'negative')])
    assert entry.main(['scale_data', '--source', source, '--rows', '7', '--made-up-labels',
                       '--fresh', '2', '--out', str(tmp_path / 'scale')]) == 0
    with open(tmp_path / 'scale' / 'reviews-7.csv', newline='', encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 7 and len({r['id'] for r in rows}) == 7
    assert all(r['sentiment'] in ('positive', 'negative') for r in rows)


def test_plot_memory_draws_one_line_per_engine_and_job(tmp_path, capsys):
    out = tmp_path / 'memory.png'
    assert entry.main(['plot_memory', '--out', str(out)]) == 0
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    drawn = [line for line in capsys.readouterr().out.splitlines() if ' reviews ' in line]
    assert [line.split(':')[0].split(',')[0] for line in drawn] == [
        'DirectRunner preprocess', 'DirectRunner score', 'Flink preprocess', 'Flink score',
        'Spark preprocess', 'Spark preprocess', 'Spark score', 'Spark score']


def test_cluster_engines_plans_every_variant_without_a_cluster(tmp_path, capsys):
    data = write_csv(str(tmp_path / 'r.csv'), [('good film', 'positive')] * 3)
    assert entry.main(['cluster_engines', '--input', data, '--limit', '2', '--dry-run',
                       '--work', str(tmp_path / 'work'), '--beam-flag=--parallelism=8']) == 0
    plan = json.loads(capsys.readouterr().out)
    assert set(plan) == {'direct', 'flink-per-stage', 'flink', 'spark'}
    assert all(set(jobs) == {'preprocess', 'score'} for jobs in plan.values())
    assert '--runner' not in plan['direct']['preprocess']
    assert 'reviews-2.csv' in plan['direct']['preprocess']
    assert '--runner=FlinkRunner' in plan['flink']['score']
    assert plan['flink']['score'].count('--parallelism') == 1 and '=8' in plan['flink']['score']
    assert '--environment_cache_millis' in plan['flink']['preprocess']
    assert '--environment_cache_millis' not in plan['flink-per-stage']['preprocess']
    assert '--runner=SparkRunner' in plan['spark']['preprocess']
    assert entry.main(['cluster_engines', '--input', data, '--dry-run', '--variant', 'spark',
                       '--job', 'score', '--work', str(tmp_path / 'work')]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert list(plan) == ['spark'] and list(plan['spark']) == ['score']


# --- e2e: each runs a job or trains a network (tens of seconds each) ---------------------------

@pytest.fixture(scope='module')
def scale_inputs(trained, tmp_path_factory):
    folder = tmp_path_factory.mktemp('scale')
    assert entry.main(['scale_data', '--source', trained['csv'], '--rows', '60',
                       '--out', str(folder)]) == 0
    return str(folder)


@pytest.mark.e2e
def test_preprocess_speed(trained, tmp_path):
    out = tmp_path / 'p.json'
    assert entry.main(['preprocess_speed', '--input', trained['csv'], '--out', str(out)]) == 0
    run = benchmark_result(out)['runs'][0]
    assert run['job']['counts']['read'] == run['plain_pass']['counts']['reviews'] == 240
    assert run['job_over_plain'] > 0


@pytest.mark.e2e
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


@pytest.mark.e2e
def test_training(trained, tmp_path):
    assert entry.main(['training', '--data', trained['preprocess'], '--model', trained['model'],
                       '--steps', '2', '--warmup', '1', '--out', str(tmp_path / 't.json')]) == 0
    result = benchmark_result(tmp_path / 't.json')
    assert result['breakdown']['epochs_run'] == 1
    assert result['input_bound']['over_plain_keras']['plain_keras_fit'] == 1.0


@pytest.mark.e2e
def test_scale_and_id_check(trained, scale_inputs, tmp_path):
    assert entry.main(['scale', '--model', trained['model'], '--data', scale_inputs,
                       '--work', str(tmp_path / 'work'), '--preprocess', '60', '--score', '60',
                       '--out', str(tmp_path / 'scale.json')]) == 0
    jobs = benchmark_result(tmp_path / 'scale.json')['jobs']
    assert [jobs[j]['runs'][0]['read'] for j in ('preprocess', 'score')] == [60, 60]
    assert entry.main(['id_check', '--data', scale_inputs, '--rows', '60',
                       '--out', str(tmp_path / 'ids.json')]) == 0
    assert benchmark_result(tmp_path / 'ids.json')['runs'][0]['counts']['read'] == 60


@pytest.mark.e2e
def test_version_skew_without_the_resolver(trained, tmp_path):
    assert entry.main(['version_skew', '--model', trained['model'], '--input', trained['csv'],
                       '--job', 'score', '--no-pin', '--out', str(tmp_path / 'v.json')]) == 0
    used = benchmark_result(tmp_path / 'v.json')['jobs']['score']['used']
    assert any('ParDo' in urn or 'pardo' in urn for urns in used.values() for urn in urns)


@pytest.mark.e2e
def test_reexport_model(trained, tmp_path):
    assert entry.main(['reexport_model', '--model', trained['model'], '--out',
                       str(tmp_path / 'again'), '--check', trained['csv']]) == 0
    assert os.path.exists(tmp_path / 'again' / 'saved_model.pb')


@pytest.mark.e2e
def test_accuracy_and_its_levers(trained, tmp_path):
    """The default recipe (the levers need its config and an unlabeled split) on 480 reviews
    of 120 movies. The default network, as the levers check: they compare against its config."""
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


def test_object_store_requests_tells_each_request_s_kind_and_object():
    """Requests as the emulator logged them in runs of explore and preprocess."""
    from benchmarks.object_store_requests import folder_shape, kind, object_name, tally
    run = 'out/x.partial-0a1b2c3d/_tft_tmp/tftransform_tmp/' + 'e5' * 16
    seen = [('GET', '/storage/v1/b/bkt?projection=noAcl&prettyPrint=false', 200, 'bucket'),
            ('GET', '/storage/v1/b/bkt/o?projection=noAcl&prefix=out%2Fx%2F', 200, 'list'),
            ('GET', '/storage/v1/b/bkt/o/out%2Fx.lock?fields=name', 404, 'metadata'),
            ('GET', '/download/storage/v1/b/bkt/o/in%2Fr.csv?alt=media', 206, 'download'),
            ('GET', f'/bkt/{run}/vocab', 206, 'download'),
            ('POST', '/upload/storage/v1/b/bkt/o?uploadType=multipart&ifGenerationMatch=0',
             200, 'upload'),
            ('POST', '/upload/storage/v1/b/bkt/o?uploadType=multipart&ifGenerationMatch=17',
             200, 'upload'),
            ('PUT', '/upload/storage/v1/b/bkt/o?uploadType=resumable&name=out%2Fx.lock'
             '&upload_id=9', 200, 'upload_data'),
            ('POST', '/upload/storage/v1/b/bkt/o?uploadType=resumable&name='
             + run.replace('/', '%2F') + '%2Fngram_vocab_runs%2F00001-ab.run', 200, 'upload'),
            ('POST', 'http://127.0.0.1:5/storage/v1/b/bkt/o/out%2Fx.partial-0a1b2c3d%2Fa'
             '/copyTo/b/bkt/o/out%2Fx%2Fa?prettyPrint=false', 200, 'copy'),
            ('POST', '/batch/storage/v1', 200, 'batch'),
            ('DELETE', 'http://127.0.0.1:5/storage/v1/b/bkt/o/out%2Fx.lock?prettyPrint=false',
             200, 'delete')]
    assert [kind(method, target) for method, target, _, _ in seen] == [k for *_, k in seen]
    assert object_name(seen[7][1]) == object_name(seen[11][1]) == 'out/x.lock'
    assert object_name(seen[4][1]) == run + '/vocab'
    assert folder_shape(run + '/ngram_vocab_runs/00001-ab.run', 'out/x') == \
        'OUT.partial-*/_tft_tmp/tftransform_tmp/*/ngram_vocab_runs'
    counted = tally([(method, target, status, 0) for method, target, status, _ in seen],
                    'out/x', 'in/r.csv')
    assert counted['requests'] == 11 and counted['http_requests'] == 10   # a batch of two
    assert counted['about'] == {'input': 1, 'no object': 5, 'output': 6}
    assert counted['lease_renewals'] == 1 and counted['answered_4xx'] == 1
    assert counted['objects_created_by_folder'] == {
        'named in the body': 2, 'OUT.partial-*/_tft_tmp/tftransform_tmp/*/ngram_vocab_runs': 1,
        'OUT': 1}                                                        # the copy's target


@pytest.mark.e2e
def test_object_store_requests(trained, tmp_path):
    """Explore at two tiny sizes on the GCS emulator (skipped without it, unless required):
    the counts are the emulator's log, job by job. (Score adds a model's upload and a minute.)"""
    from tests.support import gcs_emulator
    gcs_emulator.binary_or_skip()
    out, work = tmp_path / 'requests.json', tmp_path / 'work'
    assert entry.main(['object_store_requests', '--input', trained['csv'], '--rows', '40',
                       '--rows', '20', '--job', 'explore', '--work', str(work),
                       '--out', str(out)]) == 0
    result = benchmark_result(out)
    assert list(result['sizes']) == ['20', '40']
    logged = 0
    for n, size in result['sizes'].items():
        assert list(size['jobs']) == ['explore']
        run = size['jobs']['explore']
        kinds = run['by_kind']
        assert run['reviews_read'] == int(n)
        assert run['requests'] == sum(kinds.values()) - kinds.get('batch', 0)
        assert run['objects_beside_output'] == []      # no lock, commit or staging left
        # The input read; staged, then copied into place, then the staged copies deleted.
        assert run['about']['input'] >= 2 and kinds['download'] >= 1
        assert run['output_objects'] == 4 and run['about']['output'] >= 2 * 4
        assert kinds['copy'] >= run['output_objects'] <= kinds['delete']
        logged += run['http_requests']
    with open(work / 'fake-gcs-server.log', encoding='utf-8') as f:
        assert logged < sum('HTTP/1.1' in line for line in f)   # plus the uploads, listings
    growth = result['growth']['40 over 20']['explore']
    assert growth['reviews_read'] == 2.0 and growth['output_objects'] == 1.0
    assert growth['requests'] > 0
