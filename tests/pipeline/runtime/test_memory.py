"""Issue 21: preprocess says before it starts when the DirectRunner is the wrong place for it.

Past 1.3 times the 25k run's memory it warns, with its estimate and the runner to use; past the
memory this machine has available it does not start (exit 2, one line), unless asked to.
The big inputs here are sparse files: their size is real to the job, their bytes are not on
disk.
"""

import json
import logging
import os

import pytest

from pipeline import cli
from pipeline.runtime import memory
from tests.support.paths import BENCHMARK_RESULTS

RESULTS = BENCHMARK_RESULTS


# An input whose estimate is past the bound and past 2 GB: 8 GB (sparse).
BIG_MB = 8 * 1024


def _sparse_csv(path, size_mb: int) -> str:
    with open(path, 'w', encoding='utf-8') as f:
        f.write('review,sentiment\n"Good film, really.",positive\n')
    os.truncate(path, size_mb * 2 ** 20)
    return str(path)


@pytest.mark.parametrize('result, rows, input_mb', [
    ('scale-preprocess-coder-1m.json', 25000, 32.2),   # the scale inputs' sizes (scale_data.py)
    ('scale-preprocess-coder-100k.json', 100000, 128.9),
    ('scale-preprocess-coder-1m.json', 1000000, 1290.5),
])
def test_the_estimate_is_within_a_tenth_of_each_measured_peak(result, rows, input_mb):
    with open(os.path.join(RESULTS, result), encoding='utf-8') as f:
        runs = json.load(f)['jobs']['preprocess']['runs']
    measured = next(r['peak_rss_mb'] for r in runs if r['rows'] == rows)
    estimate = memory.estimate_mb(int(input_mb * 2 ** 20))
    assert abs(estimate - measured) / measured < 0.1, (rows, estimate, measured)


def test_a_small_input_is_neither_warned_nor_stopped(tmp_path, caplog):
    data = _sparse_csv(tmp_path / 'r.csv', 40)
    with caplog.at_level(logging.WARNING):
        memory.check_direct_memory('preprocess', [data], None, available=100)
    assert not caplog.records


def test_past_the_bound_it_warns_with_the_estimate_and_the_runner_to_use(tmp_path, caplog):
    data = _sparse_csv(tmp_path / 'r.csv', BIG_MB)
    estimate = memory.estimate_mb(BIG_MB * 2 ** 20)
    assert memory.WARN_RATIO * memory.BASE_MB < estimate < 20000
    with caplog.at_level(logging.WARNING):
        memory.check_direct_memory('preprocess', [data], 'DirectRunner', available=20000)
    said = caplog.text
    assert f'about {estimate / 1024:.1f} GB' in said
    assert 'FlinkRunner' in said and '19.5 GB available' in said


@pytest.mark.parametrize('runner', [None, 'DirectRunner', 'direct', 'directrunner',
                                    'apache_beam.runners.direct.direct_runner.DirectRunner'])
def test_every_spelling_of_the_direct_runner_is_estimated(tmp_path, runner):
    data = _sparse_csv(tmp_path / 'r.csv', BIG_MB)
    with pytest.raises(memory.NotEnoughMemory):
        memory.check_direct_memory('preprocess', [data], runner, available=2048)


def test_past_the_machine_it_stops_unless_asked_to_try(tmp_path, caplog):
    data = _sparse_csv(tmp_path / 'r.csv', BIG_MB)
    assert memory.estimate_mb(BIG_MB * 2 ** 20) > 2048
    with pytest.raises(memory.NotEnoughMemory, match='2.0 GB available'):
        memory.check_direct_memory('preprocess', [data], None, available=2048)
    with caplog.at_level(logging.WARNING):
        memory.check_direct_memory('preprocess', [data], None, try_anyway=True, available=2048)
    assert f'about {memory.estimate_mb(BIG_MB * 2 ** 20) / 1024:.1f} GB' in caplog.text


@pytest.mark.parametrize('runner', ['FlinkRunner', 'SparkRunner', 'DataflowRunner',
                                    'apache_beam.runners.portability.flink_runner.FlinkRunner'])
def test_a_cluster_runner_is_not_estimated(tmp_path, runner, caplog):
    data = _sparse_csv(tmp_path / 'r.csv', BIG_MB)
    with caplog.at_level(logging.WARNING):
        memory.check_direct_memory('preprocess', [data], runner, available=10)
    assert not caplog.records


HUGE_MB = 2 * 1024 * 1024   # 2 TB (sparse): an estimate past any CI machine's memory


@pytest.mark.skipif(memory.available_mb() is None or
                    memory.available_mb() > memory.estimate_mb(HUGE_MB * 2 ** 20),
                    reason='no /proc/meminfo, or more memory than the estimate: nothing to refuse')
def test_the_job_refuses_before_any_work_in_one_line(tmp_path, capsys):
    data = _sparse_csv(tmp_path / 'huge.csv', HUGE_MB)
    out = tmp_path / 'out'
    code = cli.main(['preprocess', '--input', data, '--output', str(out)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert 'GB available' in err and '--ignore-memory-estimate' in err
    assert 'Traceback' not in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists() and sorted(os.listdir(tmp_path)) == ['huge.csv']


# --- In worker processes (pipeline/runtime/local_cores.py): every process counts -------------

def test_each_worker_process_adds_its_own_memory():
    size = 32 * 2 ** 20
    one = memory.estimate_mb(size)
    assert memory.estimate_mb(size, workers=1) == one
    assert memory.estimate_mb(size, workers=2) == one + 2 * memory.WORKER_MB
    assert memory.estimate_mb(size, workers=4) == one + 4 * memory.WORKER_MB


def test_two_workers_at_25k_are_not_warned(tmp_path, caplog):
    data = _sparse_csv(tmp_path / 'r.csv', 40)
    with caplog.at_level(logging.WARNING):
        memory.check_direct_memory('preprocess', [data], None, available=100, workers=2)
    assert not caplog.records   # the bound is against the same processes' estimate at 25k


def test_workers_past_the_machine_stop_and_name_the_single_process(tmp_path):
    data = _sparse_csv(tmp_path / 'r.csv', BIG_MB)
    one_fits = memory.estimate_mb(BIG_MB * 2 ** 20) + 1
    assert memory.estimate_mb(BIG_MB * 2 ** 20, workers=2) > one_fits
    with pytest.raises(memory.NotEnoughMemory, match=r'in 2 worker processes.*'
                                                     r'--direct_num_workers=1 \(one process\)'):
        memory.check_direct_memory('preprocess', [data], None, available=one_fits, workers=2)
    memory.check_direct_memory('preprocess', [data], None, available=one_fits)   # one: fits
