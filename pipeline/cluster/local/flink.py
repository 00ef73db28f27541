"""A real Flink cluster on this machine for the Beam jobs: ``make flink-up`` / ``make flink-down``.

``up`` starts, all on loopback addresses and stopped later by their pid files:

- a Flink JobManager (REST API and web UI on 127.0.0.1:8081) and two TaskManagers with one slot
  each, from the Flink distribution of PyPI's wheels (``pipeline/cluster/local/install.py``);
- a Beam Python worker pool beside each TaskManager (``pipeline/cluster/worker_pool.py``): pool
  *i* listens on 127.0.0.*i*:50000, and TaskManager *i* resolves the host name
  ``beam-worker-pool`` to it through a hosts file of its own (``-Djdk.net.hosts.file``), the way
  each pod of a Kubernetes deployment reaches its own sidecar at localhost;
- Beam's Flink job server (127.0.0.1:8099), which turns a submitted Beam pipeline into a Flink
  job and runs it on the cluster.

A job then runs on it with the flags of ``beam_flags()``::

    imdb-sentiment preprocess --input R.csv --output OUT \\
        --runner=FlinkRunner --job_endpoint=localhost:8099 --environment_type=EXTERNAL \\
        --environment_config=beam-worker-pool:50000 --environment_cache_millis=60000 \\
        --parallelism=2

    python -m pipeline.cluster.local.flink up|down|status [--run-dir DIR] [--rest-port N ...]
"""

import os
import sys
from typing import Dict, List, Optional

from pipeline.cluster.local import install, lifecycle, processes
from pipeline.cluster.local.config import (POOL_HOST_NAME, ClusterConfig, beam_flags,  # noqa: F401
                                           hosts_file, write_config)

# The same for both local clusters (lifecycle.py); named here for this module's callers.
STATE_FILE, down, running = lifecycle.STATE_FILE, lifecycle.down, lifecycle.running


def _flink_env(config: ClusterConfig, home: str, extra_tm_opts: str = '',
               jar: str = '') -> Dict[str, str]:
    env = dict(os.environ)
    env.update(FLINK_HOME=home, FLINK_CONF_DIR=config.conf_dir, FLINK_LOG_DIR=config.log_dir)
    if extra_tm_opts:
        env['FLINK_ENV_JAVA_OPTS_TM'] = extra_tm_opts
    if jar:
        # Beam's runner classes on the TaskManager's own class path, behind Flink's jars (the
        # scripts append HADOOP_CLASSPATH after flink-dist): with parent-first class loading
        # (flink_config) Beam then keeps each job's SDK workers between its stages.
        env['HADOOP_CLASSPATH'] = jar
    return env


def up(config: ClusterConfig, log=print) -> Dict:
    """Installs what is missing, starts the cluster, waits until it is ready; returns its state.
    Stops whatever it started if any part fails."""
    home, jar = install.ensure_all(config.cache_dir, log)
    rest = f'http://127.0.0.1:{config.rest_port}'
    with lifecycle.starting(config, 'make flink-down', ('tmp', 'artifacts')) as cluster:
        write_config(config, home)
        cluster.start('jobmanager', [os.path.join(home, 'bin', 'jobmanager.sh'),
                                     'start-foreground'], env=_flink_env(config, home))
        cluster.wait('Flink REST API', lambda: processes.get_json(f'{rest}/overview'))
        for i in range(config.taskmanagers):
            cluster.start(f'worker-pool-{i + 1}',
                          [sys.executable, '-m', 'pipeline.cluster.worker_pool',
                           '--host', config.pool_host(i), '--port', str(config.pool_port)],
                          cwd=install.REPO_ROOT)
            cluster.start(f'taskmanager-{i + 1}', [os.path.join(home, 'bin', 'taskmanager.sh'),
                                                   'start-foreground'],
                          env=_flink_env(config, home,
                                         f'-Djdk.net.hosts.file={hosts_file(config, i)}',
                                         jar if config.beam_on_taskmanager_classpath else ''))
        cluster.start('job-server', ['java', '-Xmx512m', '-jar', jar,
                                     f'--flink-master=127.0.0.1:{config.rest_port}',
                                     *config.job_server_args()])
        cluster.wait(f'{config.taskmanagers} TaskManagers',
                     lambda: (processes.get_json(f'{rest}/overview') or {}).get('taskmanagers')
                     == config.taskmanagers)
        for i in range(config.taskmanagers):
            cluster.wait(f'worker pool {i + 1}', lambda i=i: processes.port_open(
                config.pool_host(i), config.pool_port), 60)
        cluster.wait('Beam job server', lambda: processes.port_open(
            '127.0.0.1', config.job_port), 60)
    return lifecycle.save_state(config, jar, beam_flags(config),
                                flink_version=install.FLINK_VERSION, flink_home=home,
                                web_ui=rest)


def describe(state: Dict) -> str:
    """What ``make flink-up`` prints: where to look and what to pass."""
    config = state['config']
    pools = ', '.join(f'127.0.0.{i + 1}:{config["pool_port"]}'
                      for i in range(config['taskmanagers']))
    return lifecycle.describe(
        state, 'flink', f'Flink {state["flink_version"]}: web UI {state["web_ui"]} '
                        f'({config["taskmanagers"]} TaskManagers, 1 slot each)',
        'Flink job server', f'Worker pools (one per TaskManager, as '
                            f'{POOL_HOST_NAME}:{config["pool_port"]}): {pools}')


def main(argv: Optional[List[str]] = None) -> int:
    return lifecycle.main(
        argv, 'flink', __doc__.split('\n', 1)[0], ClusterConfig, up, describe,
        ('rest_port', 'job_port', 'pool_port', 'taskmanagers', 'taskmanager_memory'),
        lambda config: f'http://127.0.0.1:{config.rest_port}/overview')


if __name__ == '__main__':
    sys.exit(main())
