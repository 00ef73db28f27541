"""The local cluster's scripts without a cluster: its Flink config, its hosts files, and stopping
processes by pid file only (real processes: ``sleep``)."""

import os
import sys
import time

import pytest

from pipeline.cluster.local import config as cluster_config
from pipeline.cluster.local import processes


@pytest.fixture
def flink_home(tmp_path):
    """The parts of a Flink distribution that write_config reads."""
    conf = tmp_path / 'flink' / 'conf'
    conf.mkdir(parents=True)
    (conf / 'config.yaml').write_text('env:\n  java:\n    opts:\n      all: --add-opens=x=ALL\n')
    (conf / 'log4j.properties').write_text('rootLogger.level = INFO\n')
    return str(tmp_path / 'flink')


def test_every_flink_address_is_loopback_and_ports_come_from_the_config(tmp_path):
    config = cluster_config.ClusterConfig(run_dir=str(tmp_path), rest_port=18081, rpc_port=16123)
    flat = cluster_config.flink_config(config, '-Dx')
    for key in ('jobmanager.rpc.address', 'jobmanager.bind-host', 'taskmanager.host',
                'taskmanager.bind-host', 'rest.address', 'rest.bind-address'):
        assert flat[key] == '127.0.0.1', key
    assert flat['rest.port'] == 18081 and flat['jobmanager.rpc.port'] == 16123
    assert flat['classloader.check-leaked-classloader'] is False
    assert flat['taskmanager.numberOfTaskSlots'] == 1


def test_each_taskmanager_resolves_the_pool_name_to_its_own_pool(tmp_path, flink_home):
    config = cluster_config.ClusterConfig(run_dir=str(tmp_path / 'run'), taskmanagers=2)
    cluster_config.write_config(config, flink_home)
    pools = []
    for i in range(2):
        entries = {}
        with open(cluster_config.hosts_file(config, i)) as f:
            for line in f:
                address, *names = line.split()
                entries.update((name, address) for name in names)
        pools.append(entries[cluster_config.POOL_HOST_NAME])
        assert entries['localhost'] == '127.0.0.1'  # the JVM reads this file alone
    assert pools == ['127.0.0.1', '127.0.0.2']
    written = open(os.path.join(config.conf_dir, 'config.yaml')).read()
    assert 'env.java.opts.all: "--add-opens=x=ALL"' in written
    assert 'rest.bind-address: "127.0.0.1"' in written
    assert os.path.exists(os.path.join(config.conf_dir, 'log4j.properties'))


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
