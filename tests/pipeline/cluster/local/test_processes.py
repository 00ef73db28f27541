"""Stopping processes by pid file only (real processes: sleep): the recorded process and its
children, never one that only reuses the pid."""

import os
import sys
import time

from pipeline.cluster.local import processes


def _sleeper(tmp_path, name='sleeper', argv=None):
    pid = processes.start(name, argv or ['sleep', '60'], str(tmp_path / 'pids'),
                          str(tmp_path / f'{name}.log'))
    [record] = [r for r in processes.recorded(str(tmp_path / 'pids')) if r['name'] == name]
    return pid, record


def test_stop_ends_the_recorded_process_and_removes_its_pid_file(tmp_path):
    pid, record = _sleeper(tmp_path)
    assert processes.is_running(record)
    assert processes.stop(record, timeout=5)
    assert not processes.alive(pid)
    assert processes.recorded(str(tmp_path / 'pids')) == []


def test_stop_never_signals_a_process_that_only_reuses_the_pid(tmp_path):
    """A pid file whose start time is not the running process's (the pid was reused) is stale."""
    pid, record = _sleeper(tmp_path)
    try:
        record['start_time'] = str(int(record['start_time']) - 1)
        assert not processes.is_running(record)
        assert not processes.stop(record, timeout=5)
        time.sleep(0.2)
        assert processes.alive(pid)
    finally:
        os.kill(pid, 15)
        os.waitpid(pid, 0)


def test_stop_also_ends_the_children_it_left(tmp_path):
    """A worker pool's SDK workers: children of the recorded process."""
    script = 'import subprocess, time; subprocess.Popen(["sleep", "60"]); time.sleep(60)'
    pid, record = _sleeper(tmp_path, 'parent', [sys.executable, '-c', script])
    deadline = time.monotonic() + 10
    while not processes.children(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    [child] = processes.children(pid)
    assert processes.stop(record, timeout=5)
    time.sleep(0.2)
    assert not processes.alive(pid) and not processes.alive(child)
