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
        --environment_config=beam-worker-pool:50000 --parallelism=2

    python -m pipeline.cluster.local.flink up|down|status [--run-dir DIR] [--rest-port N ...]
"""

import argparse
import dataclasses
import json
import os
import sys
from typing import Dict, List, Optional

from pipeline.cluster.local import install
from pipeline.cluster.local import processes
from pipeline.cluster.local.config import (POOL_HOST_NAME, ClusterConfig, beam_flags,  # noqa: F401
                                     default_cache_dir, hosts_file, write_config)

STATE_FILE = 'cluster.json'


def _flink_env(config: ClusterConfig, home: str, extra_tm_opts: str = '') -> Dict[str, str]:
    env = dict(os.environ)
    env.update(FLINK_HOME=home, FLINK_CONF_DIR=config.conf_dir, FLINK_LOG_DIR=config.log_dir)
    if extra_tm_opts:
        env['FLINK_ENV_JAVA_OPTS_TM'] = extra_tm_opts
    return env


def up(config: ClusterConfig, log=print) -> Dict:
    """Installs what is missing, starts the cluster, waits until it is ready; returns its state.
    Stops whatever it started if any part fails."""
    if running(config):
        raise RuntimeError(f'a cluster from {config.run_dir} is already running; stop it first '
                           '(make flink-down)')
    home, jar = install.ensure_all(config.cache_dir, log)
    for sub in ('pids', 'log', 'tmp', 'artifacts'):
        os.makedirs(os.path.join(config.run_dir, sub), exist_ok=True)
    write_config(config, home)
    rest = f'http://127.0.0.1:{config.rest_port}'
    logs = lambda: _log_tails(config)
    try:
        jm = processes.start('jobmanager', [os.path.join(home, 'bin', 'jobmanager.sh'),
                                            'start-foreground'],
                             config.pid_dir, os.path.join(config.log_dir, 'jobmanager.out'),
                             env=_flink_env(config, home))
        processes.wait_for('Flink REST API', lambda: processes.get_json(f'{rest}/overview'),
                           120, [jm], logs)
        started = [jm]
        for i in range(config.taskmanagers):
            started.append(processes.start(
                f'worker-pool-{i + 1}',
                [sys.executable, '-m', 'pipeline.cluster.worker_pool',
                 '--host', config.pool_host(i), '--port', str(config.pool_port)],
                config.pid_dir, os.path.join(config.log_dir, f'worker-pool-{i + 1}.out'),
                cwd=install.REPO_ROOT))
            started.append(processes.start(
                f'taskmanager-{i + 1}', [os.path.join(home, 'bin', 'taskmanager.sh'),
                                         'start-foreground'],
                config.pid_dir, os.path.join(config.log_dir, f'taskmanager-{i + 1}.out'),
                env=_flink_env(config, home, f'-Djdk.net.hosts.file={hosts_file(config, i)}')))
        started.append(processes.start(
            'job-server',
            ['java', '-Xmx512m', '-jar', jar, f'--flink-master=127.0.0.1:{config.rest_port}',
             '--job-host=127.0.0.1', f'--job-port={config.job_port}',
             f'--artifact-port={config.artifact_port}',
             f'--expansion-port={config.expansion_port}',
             f'--artifacts-dir={os.path.join(config.run_dir, "artifacts")}'],
            config.pid_dir, os.path.join(config.log_dir, 'job-server.out')))
        processes.wait_for(
            f'{config.taskmanagers} TaskManagers',
            lambda: (processes.get_json(f'{rest}/overview') or {}).get('taskmanagers')
            == config.taskmanagers, 120, started, logs)
        for i in range(config.taskmanagers):
            processes.wait_for(f'worker pool {i + 1}', lambda i=i: processes.port_open(
                config.pool_host(i), config.pool_port), 60, started, logs)
        processes.wait_for('Beam job server', lambda: processes.port_open(
            '127.0.0.1', config.job_port), 60, started, logs)
    except BaseException:
        down(config, log=lambda *_: None)
        raise
    state = {'flink_version': install.FLINK_VERSION,
             'beam_job_server_version': install.BEAM_JOB_SERVER_VERSION,
             'flink_home': home, 'job_server_jar': jar, 'web_ui': rest,
             'beam_flags': beam_flags(config), 'config': dataclasses.asdict(config)}
    with open(os.path.join(config.run_dir, STATE_FILE), 'w') as f:
        json.dump(state, f, indent=2)
    return state


def running(config: ClusterConfig) -> List[Dict]:
    """Pid-file records of this run dir whose processes still run."""
    return [r for r in processes.recorded(config.pid_dir) if processes.is_running(r)]


def down(config: ClusterConfig, log=print) -> List[str]:
    """Stops what ``up`` started from this run dir (newest first), by pid file; returns names."""
    stopped = []
    for record in reversed(processes.recorded(config.pid_dir)):
        if processes.stop(record):
            stopped.append(record['name'])
            log(f'stopped {record["name"]} (pid {record["pid"]})')
    try:
        os.remove(os.path.join(config.run_dir, STATE_FILE))
    except OSError:
        pass
    return stopped


def _log_tails(config: ClusterConfig) -> str:
    if not os.path.isdir(config.log_dir):
        return ''
    parts = []
    for name in sorted(os.listdir(config.log_dir)):
        if name.endswith(('.out', '.log')):
            parts.append(f'--- {name} ---\n{processes.tail(os.path.join(config.log_dir, name), 1500)}')
    return '\n'.join(parts)


def describe(state: Dict) -> str:
    """What ``make flink-up`` prints: where to look and what to pass."""
    config = state['config']
    pools = ', '.join(f'127.0.0.{i + 1}:{config["pool_port"]}'
                      for i in range(config['taskmanagers']))
    flags = ' \\\n    '.join(state['beam_flags'])
    return (f'Flink {state["flink_version"]}: web UI {state["web_ui"]} '
            f'({config["taskmanagers"]} TaskManagers, 1 slot each)\n'
            f'Beam {state["beam_job_server_version"]} Flink job server: '
            f'localhost:{config["job_port"]}\n'
            f'Worker pools (one per TaskManager, as {POOL_HOST_NAME}:{config["pool_port"]}): '
            f'{pools}\n'
            f'Logs and pid files: {config["run_dir"]}\n\n'
            f'Run a job on it:\n  imdb-sentiment preprocess --input R.csv --output OUT \\\n'
            f'    {flags}\n\nStop it: make flink-down\n')


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m pipeline.cluster.local.flink',
                                     description=__doc__.split('\n', 1)[0])
    parser.add_argument('command', choices=['up', 'down', 'status'])
    parser.add_argument('--run-dir', default=os.path.join(install.REPO_ROOT, '.cluster', 'flink'),
                        help='Config, logs and pid files (default %(default)s).')
    parser.add_argument('--cache-dir', default=default_cache_dir(),
                        help='Downloaded Flink and job server (default %(default)s).')
    for field in ('rest_port', 'job_port', 'pool_port', 'taskmanagers'):
        default = ClusterConfig.__dataclass_fields__[field].default
        parser.add_argument(f'--{field.replace("_", "-")}', type=int, default=default,
                            help=f'(default {default})')
    args = parser.parse_args(argv)
    config = ClusterConfig(run_dir=os.path.abspath(args.run_dir), cache_dir=args.cache_dir,
                           rest_port=args.rest_port, job_port=args.job_port,
                           pool_port=args.pool_port, taskmanagers=args.taskmanagers)
    if args.command == 'up':
        try:
            print(describe(up(config)))
        except (RuntimeError, install.MissingTool) as e:
            print(f'flink-up failed: {e}', file=sys.stderr)
            return 1
    elif args.command == 'down':
        if not down(config):
            print(f'nothing running from {config.run_dir}')
    else:
        live = running(config)
        overview = processes.get_json(f'http://127.0.0.1:{config.rest_port}/overview')
        print('\n'.join(f'{r["name"]}: pid {r["pid"]}' for r in live) or 'not running')
        if overview:
            print(json.dumps(overview))
    return 0


if __name__ == '__main__':
    sys.exit(main())
