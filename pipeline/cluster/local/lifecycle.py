"""What the local Flink and Spark clusters share: starting their processes one by one into a
run dir (and stopping all of them if one fails), stopping them by pid file, the state file that
``up`` writes, and the command line ``python -m pipeline.cluster.local.flink|spark up|down|status``.
"""

import argparse
import contextlib
import dataclasses
import json
import os
import sys
from typing import Callable, Dict, Iterator, List, Optional, Sequence

from pipeline.cluster.local import install, processes
from pipeline.cluster.local.config import BeamServices, RunDir
from pipeline.jobs.archive import default_cache_dir

STATE_FILE = 'cluster.json'


class Starter:
    """Starts a cluster's processes into its run dir; ``wait`` fails early if one has exited."""

    def __init__(self, config: RunDir):
        self.config, self.pids = config, []

    def start(self, name: str, argv: List[str], env: Optional[Dict[str, str]] = None,
              cwd: Optional[str] = None) -> int:
        pid = processes.start(name, argv, self.config.pid_dir,
                              os.path.join(self.config.log_dir, f'{name}.out'), env=env, cwd=cwd)
        self.pids.append(pid)
        return pid

    def wait(self, what: str, ready: Callable[[], bool], timeout: float = 120) -> None:
        processes.wait_for(what, ready, timeout, self.pids, lambda: log_tails(self.config))


@contextlib.contextmanager
def starting(config: RunDir, stop_with: str, subdirs: Sequence[str] = ()) -> Iterator[Starter]:
    """A Starter for a cluster that is not running yet; if anything in the block fails (or is
    interrupted), every process started so far is stopped by its pid file."""
    if running(config):
        raise RuntimeError(f'a cluster from {config.run_dir} is already running; stop it first '
                           f'({stop_with})')
    for sub in ('pids', 'log', 'conf', *subdirs):
        os.makedirs(os.path.join(config.run_dir, sub), exist_ok=True)
    try:
        yield Starter(config)
    except BaseException:
        down(config, log=lambda *_: None)
        raise


def save_state(config: BeamServices, jar: str, flags: List[str], **engine) -> Dict:
    """Writes what ``up`` started (``cluster.json`` in the run dir) and returns it: the
    ``engine``'s own entries, Beam's job server (its version, its ``jar``), the ``flags`` that
    run a job on the cluster, and the config."""
    state = dict(engine, beam_job_server_version=install.BEAM_JOB_SERVER_VERSION,
                 job_server_jar=jar, beam_flags=flags, config=dataclasses.asdict(config))
    with open(os.path.join(config.run_dir, STATE_FILE), 'w') as f:
        json.dump(state, f, indent=2)
    return state


def running(config: RunDir) -> List[Dict]:
    """Pid-file records of this run dir whose processes still run."""
    return [r for r in processes.recorded(config.pid_dir) if processes.is_running(r)]


def down(config: RunDir, log=print) -> List[str]:
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


def log_tails(config: RunDir) -> str:
    if not os.path.isdir(config.log_dir):
        return ''
    parts = []
    for name in sorted(os.listdir(config.log_dir)):
        if name.endswith(('.out', '.log')):
            parts.append(f'--- {name} ---\n{processes.tail(os.path.join(config.log_dir, name), 1500)}')
    return '\n'.join(parts)


def describe(state: Dict, engine: str, cluster: str, job_server: str, pools: str) -> str:
    """What ``make ENGINE-up`` prints: the ``cluster``'s own line, Beam's job server (called
    ``job_server`` there), where the worker ``pools`` listen and the logs are, a job with the
    flags that run it there, and how to stop it all."""
    config = state['config']
    joined = ' \\\n    '.join(state['beam_flags'])
    return (f'{cluster}\n'
            f'Beam {state["beam_job_server_version"]} {job_server}: '
            f'localhost:{config["job_port"]}\n'
            f'{pools}\n'
            f'Logs and pid files: {config["run_dir"]}\n\n'
            f'Run a job on it:\n  imdb-sentiment preprocess --input R.csv --output OUT \\\n'
            f'    {joined}\n\nStop it: make {engine}-down\n')


def main(argv: Optional[List[str]], engine: str, description: str, config_class: type,
         up: Callable, describe: Callable[[Dict], str], fields: Sequence[str],
         status_url: Callable) -> int:
    """``up`` (prints ``describe(state)``), ``down`` or ``status`` of one engine's local cluster.
    ``fields``: the config's fields that get a flag (integers, or strings such as a memory
    size); ``status_url(config)``: a JSON page that ``status`` prints."""
    parser = argparse.ArgumentParser(prog=f'python -m pipeline.cluster.local.{engine}',
                                     description=description)
    parser.add_argument('command', choices=['up', 'down', 'status'])
    parser.add_argument('--run-dir', default=os.path.join(install.REPO_ROOT, '.cluster', engine),
                        help='Config, logs and pid files (default %(default)s).')
    parser.add_argument('--cache-dir', default=default_cache_dir(),
                        help='Downloads and the built job server (default %(default)s).')
    for field in fields:
        default = config_class.__dataclass_fields__[field].default
        parser.add_argument(f'--{field.replace("_", "-")}', type=type(default), default=default,
                            help=f'(default {default})')
    args = parser.parse_args(argv)
    config = config_class(run_dir=os.path.abspath(args.run_dir), cache_dir=args.cache_dir,
                          **{field: getattr(args, field) for field in fields})
    if args.command == 'up':
        try:
            print(describe(up(config)))
        except (RuntimeError, install.MissingTool) as e:
            print(f'{engine}-up failed: {e}', file=sys.stderr)
            return 1
    elif args.command == 'down':
        if not down(config):
            print(f'nothing running from {config.run_dir}')
    else:
        live = running(config)
        print('\n'.join(f'{r["name"]}: pid {r["pid"]}' for r in live) or 'not running')
        page = processes.get_json(status_url(config)) if live else None
        if page:
            print(json.dumps(page))
    return 0
