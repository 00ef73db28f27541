"""A local cluster's start and stop: a failed start stops every process it started, and up refuses
a run dir whose cluster still runs."""

import time

import pytest

from pipeline.cluster.local import config as cluster_config
from pipeline.cluster.local import processes


def test_a_failed_start_stops_every_process_started_before_it(tmp_path):
    from pipeline.cluster.local import lifecycle
    config = cluster_config.RunDir(run_dir=str(tmp_path / 'run'))
    started = []
    with pytest.raises(RuntimeError, match='never ready'):
        with lifecycle.starting(config, 'make x-down') as cluster:
            started.append(cluster.start('first', ['sleep', '60']))
            started.append(cluster.start('second', ['sleep', '60']))
            cluster.wait('never ready', lambda: False, timeout=1)
    time.sleep(0.2)
    assert started and not any(processes.alive(pid) for pid in started)
    assert processes.recorded(config.pid_dir) == []


def test_up_refuses_a_run_dir_whose_cluster_still_runs(tmp_path):
    from pipeline.cluster.local import lifecycle
    config = cluster_config.RunDir(run_dir=str(tmp_path / 'run'))
    with lifecycle.starting(config, 'make x-down') as cluster:
        pid = cluster.start('only', ['sleep', '60'])
    try:
        with pytest.raises(RuntimeError, match='make x-down'):
            with lifecycle.starting(config, 'make x-down'):
                pass
        assert processes.alive(pid)  # the refusal stopped nothing
    finally:
        assert lifecycle.down(config, log=lambda *_: None) == ['only']
