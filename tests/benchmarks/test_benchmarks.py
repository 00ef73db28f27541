"""The benchmarks package: every benchmark imports without editing the import path, is listed
with the question it answers (``python -m benchmarks``), and the ones that take seconds run on a
tiny input (start-up, the scale inputs, the memory plot, the cluster benchmark's plan). The ones
that run a job or train a network are tests/test_benchmark_runs.py. Everything is written under
tmp_path, never into benchmarks/results/.
"""

import csv
import importlib
import json
import os

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
        'DirectRunner preprocess', 'DirectRunner score', 'Flink preprocess', 'Flink score']


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
