"""All local cores by default: how many DirectRunner worker processes a job gets, their counts
read by the launcher, and none of them left running (the end-to-end runs: test_preprocess.py
and test_exit_codes.py)."""

import logging
import os
import subprocess
import sys
import time

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.runtime import local_cores, memory
from pipeline.runtime.local_cores import WorkerProcesses, choose, descendants
from tests.support.paths import ROOT
from transforms import activity

MB = 2 ** 20
BIG = 100 * MB          # past MIN_INPUT_MB
SMALL = 1 * MB          # under it
MP = '--direct_running_mode=multi_processing'


def _chosen(beam_args, runner=None, size=BIG, cores=4, affordable=None):
    """-> (the choice, the running mode and workers of the options it was applied to)."""
    found = choose(beam_args, runner, size, cores=cores, affordable=affordable)
    options = PipelineOptions(beam_args)
    found.apply(options)
    assert local_cores.worker_processes(options) == found.processes
    settings = options.get_all_options()
    return found, settings['direct_running_mode'], settings['direct_num_workers']


def test_a_big_input_runs_in_one_worker_process_per_core():
    found, mode, workers = _chosen([], size=BIG, cores=4)
    assert (found.processes, mode, workers) == (4, 'multi_processing', 4)
    assert '4 of the 4 usable cores' in found.reason and '--direct_num_workers=1' in found.reason


@pytest.mark.parametrize('size, cores', [(SMALL, 4), (local_cores.MIN_INPUT_MB * MB - 1, 4),
                                         (BIG, 1)])
def test_a_small_input_or_one_core_stays_in_this_process(size, cores):
    found, mode, workers = _chosen(['--runner=DirectRunner'], size=size, cores=cores)
    assert (found.processes, found.multi, mode, workers) == (1, False, 'in_memory', 1)


def test_the_threshold_is_the_first_byte_that_uses_the_cores():
    assert _chosen([], size=local_cores.MIN_INPUT_MB * MB, cores=2)[0].processes == 2


@pytest.mark.parametrize('given', [['--direct_num_workers=1'], ['--direct_num_workers', '1'],
                                   ['--direct_running_mode=in_memory'],
                                   ['--direct_running_mode=multi_threading',
                                    '--direct_num_workers=3']])
def test_the_command_line_keeps_todays_single_process(given):
    found, _, _ = _chosen(given, size=BIG, cores=8)
    assert found.processes == 1 and not found.multi
    assert 'asks for this process' in found.reason


@pytest.mark.parametrize('given, expected', [
    (['--direct_num_workers=3'], 3),                       # the mode is added
    (['--direct_num_workers', '2'], 2),
    ([MP], 8),                                             # Beam's default would be 1 worker
    ([MP, '--direct_num_workers=0'], 8),                   # 0: the usable cores, not cpu_count
    (['--direct_num_workers=0'], 8),
])
def test_workers_asked_for_run_in_worker_processes_at_any_size(given, expected):
    found, mode, workers = _chosen(given, size=0, cores=8)
    assert (found.processes, mode, workers) == (expected, 'multi_processing', expected)


@pytest.mark.parametrize('runner', ['FlinkRunner', 'SparkRunner', 'DataflowRunner'])
def test_other_runners_are_left_alone(runner):
    args = [f'--runner={runner}']
    found = choose(args, runner, BIG, cores=8)
    assert found == local_cores.Choice(1, None)
    assert local_cores.worker_processes(PipelineOptions(args + [MP])) == 1


def test_the_workers_are_as_many_as_the_memory_holds():
    found, _, workers = _chosen([], size=BIG, cores=8, affordable=3)
    assert found.processes == workers == 3 and 'the memory available holds 3' in found.reason
    found, mode, _ = _chosen([], size=BIG, cores=8, affordable=1)
    assert (found.processes, mode) == (1, 'in_memory')


def test_affordable_workers_leave_room_for_the_launcher():
    assert memory.affordable_workers(memory.BASE_MB + 2 * memory.WORKER_MB) == 2
    assert memory.affordable_workers(memory.BASE_MB + 2 * memory.WORKER_MB - 1) == 1
    assert memory.affordable_workers(100) == 0


def test_usable_cores_are_this_process_affinity():
    assert local_cores.usable_cores() == len(os.sched_getaffinity(0))


# --- Processes: found through /proc, and none left behind -----------------------------------

def _shell_with_a_child():
    """``/bin/sh -c`` with a command it cannot exec (as Beam starts a worker): the shell and
    its ``sleep`` -> (shell, sleep pid)."""
    shell = subprocess.Popen(['/bin/sh', '-c', 'sleep 120; true'])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        below = descendants(shell.pid)
        if below:
            return shell, below[0]
        time.sleep(0.05)
    raise AssertionError('the shell started no child')


def _running(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def test_descendants_are_children_and_their_children():
    shell, sleep = _shell_with_a_child()
    try:
        found = descendants(os.getpid())
        assert shell.pid in found and sleep in found
        assert descendants(shell.pid) == [sleep]
    finally:
        shell.kill()
        os.kill(sleep, 9)
        shell.wait()


def test_leaving_the_block_ends_every_process_started_inside_it_and_no_other():
    before, before_child = _shell_with_a_child()
    try:
        with WorkerProcesses('job', 2):
            shell, sleep = _shell_with_a_child()
        deadline = time.monotonic() + 5
        while _running(shell.pid) and time.monotonic() < deadline:
            shell.poll()   # a zombie until its parent reaps it: reap it
            time.sleep(0.05)
        assert not _running(sleep), 'the grandchild was orphaned, still running'
        assert shell.wait(timeout=5) is not None
        assert _running(before.pid) and _running(before_child)   # started before: untouched
    finally:
        before.kill()
        os.kill(before_child, 9)
        before.wait()


def test_one_process_needs_no_folder_and_changes_nothing():
    with WorkerProcesses('job', 1):
        assert activity.PROGRESS_DIR_ENV not in os.environ


# --- Counts from other processes ---------------------------------------------------------

_CHILD = ('import sys; sys.path.insert(0, sys.argv[1]); from transforms import activity\n'
          'activity.count("reviews read", 1000)\n')


def test_counts_of_worker_processes_reach_the_launcher_and_are_logged(caplog):
    activity.reset()
    with caplog.at_level(logging.INFO, logger='pipeline'):
        with WorkerProcesses('preprocess', 2, every_s=0.2):
            folder = os.environ[activity.PROGRESS_DIR_ENV]
            for _ in range(2):   # two workers, each its own file
                subprocess.run([sys.executable, '-c', _CHILD, ROOT], check=True)
            activity.count('reviews read', 5)   # the launcher's own count: in memory
            assert activity.counted() == {'reviews read': 2005}
            wanted = 'preprocess: reviews read: 2,000 so far (in 2 worker processes)'
            deadline = time.monotonic() + 10   # a line may come between the two workers
            while wanted not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.1)
    assert wanted in caplog.text
    assert activity.PROGRESS_DIR_ENV not in os.environ and not os.path.exists(folder)
    assert activity.counted() == {'reviews read': 5}
    activity.reset()


def test_a_half_written_count_file_is_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv(activity.PROGRESS_DIR_ENV, str(tmp_path))
    (tmp_path / '1.json').write_text('{"reviews read": 7}')
    (tmp_path / '2.json').write_text('{"reviews re')
    assert activity.counted_elsewhere() == {'reviews read': 7}
