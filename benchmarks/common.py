"""What the benchmarks share: where things are, how a job is run and measured, how a figure
is written.

- Paths: ``ROOT`` (this checkout), ``RESULTS`` (``benchmarks/results``), ``DATA`` (the shared
  reviews), ``result_path(name)``.
- ``job_command``: ``imdb-sentiment ARGV`` as this checkout runs it (``python -m pipeline.cli``
  with ``checkout_env``; the console script on the PATH may be another checkout's).
- ``run_timed``: a command under ``/usr/bin/time -v``: wall time, peak RSS, its output, and
  optionally the resident memory of its whole process tree sampled over the run
  (``TreeSampler``). The peak counts every process of the job: the larger of time(1)'s figure
  (the largest single process, exact) and the sum over the job's processes sampled every
  0.5 s (a DirectRunner job runs in worker processes past 24 MB of input). ``MemorySampler``: the peaks of several
  named process trees at once (a job and the cluster it runs on).
- ``header`` and ``write_json``: a result file that says which benchmark, its command, the
  versions and the UTC time.
- ``TINY_MODEL``, ``train_small_model``, ``subset``, ``counts``, ``free_port``: a small model's
  flags and one trained with them, the first N reviews of a CSV, a job output's counts, a free
  TCP port.
"""

import argparse
import dataclasses
import itertools
import json
import os
import re
import resource
import shlex
import socket
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, 'benchmarks', 'results')
DATA = os.path.normpath(os.path.join(ROOT, '..', 'shared', 'data', 'imdb'))
TRAIN_CSV = os.path.join(DATA, 'train.csv')
# One epoch of a small network: for benchmarks that compare runners, not models.
TINY_MODEL = ['--epochs', '1', '--embedding-dim', '32', '--lstm-units', '32',
              '--dense-units', '16']


def result_path(name: str) -> str:
    """``benchmarks/results/NAME.json``: where a benchmark writes by default."""
    return os.path.join(RESULTS, f'{name}.json')


def parser(name: str, doc: str) -> argparse.ArgumentParser:
    """The argument parser of benchmark ``name``, its docstring as its --help."""
    return argparse.ArgumentParser(prog=f'python -m benchmarks {name}', description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def checkout_env(checkout: str = ROOT) -> Dict[str, str]:
    """This environment, with ``checkout``'s packages first on a child's import path (and
    not the child's working folder, which ``python -m`` and ``-c`` would put before it)."""
    paths = [checkout] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths), PYTHONSAFEPATH='1')


def job_command(*argv: str) -> List[str]:
    """``imdb-sentiment ARGV`` as a child process (run it with ``checkout_env()``)."""
    return [sys.executable, '-m', 'pipeline.cli', *argv]


def shown(cmd: Sequence[str]) -> str:
    """A ``job_command`` as a user types it: ``imdb-sentiment ARGV``."""
    return shlex.join(['imdb-sentiment', *cmd[3:]])


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB; 0 once it has ended."""
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_rss_self_mb() -> int:
    """This process's peak resident memory so far, in MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def process_tree(pid: int) -> List[int]:
    """``pid`` and its descendants (from /proc/PID/task/*/children)."""
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        found.append(p)
        try:
            for task in os.listdir(f'/proc/{p}/task'):
                with open(f'/proc/{p}/task/{task}/children') as f:
                    frontier += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return found


class TreeSampler(threading.Thread):
    """The resident memory of a process tree every ``interval`` seconds: (s, MB) pairs
    (``below``: of the processes below ``pid``, not ``pid`` itself)."""

    def __init__(self, pid: int, interval: float = 1.0, below: bool = False):
        super().__init__(daemon=True)
        self.pid, self.interval, self.samples, self.below = pid, interval, [], below
        self._done = threading.Event()
        self._t0 = time.perf_counter()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            mb = sum(rss_mb(p) for p in process_tree(self.pid)[int(self.below):])
            self.samples.append((round(time.perf_counter() - self._t0, 1), round(mb)))

    def stop(self) -> List[Tuple[float, int]]:
        self._done.set()
        self.join()
        return self.samples


class MemorySampler(threading.Thread):
    """Peak resident memory (MB) of named process trees, sampled every ``interval`` seconds."""

    def __init__(self, roots: Dict[str, int], interval: float = 0.5):
        super().__init__(daemon=True)
        self.roots, self.interval = dict(roots), interval
        self.peak = {name: 0.0 for name in roots}
        self.peak_child = {name: 0.0 for name in roots}  # the largest single child process
        self.children = {name: set() for name in roots}
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            for name, root in self.roots.items():
                tree = process_tree(root)
                self.peak[name] = max(self.peak[name], sum(rss_mb(p) for p in tree))
                for child in tree[1:]:
                    self.children[name].add(child)
                    self.peak_child[name] = max(self.peak_child[name], rss_mb(child))
            self._done.wait(self.interval)

    def stop(self) -> Dict[str, Dict]:
        self._done.set()
        self.join()
        return {name: {'peak_rss_mb': round(self.peak[name]),
                       'processes_started': len(self.children[name]),
                       'peak_single_child_rss_mb': round(self.peak_child[name])}
                for name in self.roots}


@dataclasses.dataclass(frozen=True)
class Timed:
    wall_s: float                 # unrounded; each benchmark rounds as its JSON has it
    peak_rss_mb: int              # of all the job's processes together (see the module doc)
    stdout: str
    stderr: str
    samples: List[Tuple[float, int]]  # the tree's RSS over the run (with ``sample_every``)


def run_timed(cmd: List[str], cwd: Optional[str] = None, sample_every: Optional[float] = None,
              checkout: str = ROOT, env: Optional[Dict[str, str]] = None) -> Timed:
    """Runs ``cmd`` under /usr/bin/time -v, importing ``checkout``'s packages (``env``: its
    environment in place of ``checkout_env(checkout)``); a failure ends the benchmark with
    its stderr."""
    started = time.perf_counter()
    proc = subprocess.Popen(['/usr/bin/time', '-v', *cmd], cwd=cwd,
                            env=checkout_env(checkout) if env is None else env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(proc.pid, sample_every) if sample_every else None
    if sampler:
        sampler.start()
    tree = TreeSampler(proc.pid, 0.5, below=True)   # the job's processes, not time(1)
    tree.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    samples = sampler.stop() if sampler else []
    tree_peak = max((mb for _, mb in tree.stop()), default=0)
    if proc.returncode:
        raise SystemExit(f'{shlex.join(cmd)} failed ({proc.returncode}):\n{stderr[-3000:]}')
    rss_kb = int(re.search(r'Maximum resident set size \(kbytes\): (\d+)', stderr).group(1))
    return Timed(wall, max(round(rss_kb / 1024), tree_peak), stdout, stderr, samples)


def header(name: str, argv: Sequence[str]) -> Dict:
    """What every result file starts with: the benchmark, its command, the machine's cores,
    the versions of what decides the figures, and the UTC time."""
    from transforms.jsonio import utc_now, versions  # imports Beam: only once a run starts
    return {'benchmark': name, 'created': utc_now(),
            'command': shlex.join(['python', '-m', 'benchmarks', name, *argv]),
            'cpus': os.cpu_count(), 'versions': versions()}


def write_json(path: str, result) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(result, f, indent=2)


def counts(out: str) -> Dict:
    """The ``counts`` of a job output's manifest."""
    with open(os.path.join(out, 'manifest.json'), encoding='utf-8') as f:
        return json.load(f)['counts']


def train_small_model(data: str, work: str, model: str) -> None:
    """``TINY_MODEL`` trained on a preprocess of the CSV ``data`` into ``model`` (the
    preprocess kept under ``work``): for benchmarks that measure score's cost more than
    its network."""
    pre = os.path.join(work, 'model-data')
    if not os.path.exists(os.path.join(pre, 'manifest.json')):
        subprocess.run(job_command('preprocess', '--input', data, '--output', pre),
                       check=True, capture_output=True, env=checkout_env())
    print('training a small model...', flush=True)
    subprocess.run(job_command('train', '--data', pre, '--output', model, *TINY_MODEL),
                   check=True, capture_output=True, env=checkout_env())


def free_port(host: str = '127.0.0.1') -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def subset(path: str, limit: int, work: str) -> str:
    """``path`` itself, or with ``limit`` a CSV of its first ``limit`` reviews under ``work``
    (one record a line, as the shared files have them)."""
    if not limit:
        return path
    part = os.path.join(work, f'reviews-{limit}.csv')
    with open(path, encoding='utf-8') as src, open(part, 'w', encoding='utf-8') as dst:
        for line in itertools.islice(src, limit + 1):  # plus the header
            dst.write(line)
    return part
