"""What the benchmarks measure a child process with, and how they write their figures.

- ``run_timed``: a command under ``/usr/bin/time -v``: wall time, peak RSS (the largest
  single process, as time(1) reports it), its output, and optionally the resident memory of
  its whole process tree sampled over the run (``TreeSampler``).
- ``rss_mb`` and ``process_tree``: a process's resident memory, a process and its descendants.
- ``write_json``: a result file under ``benchmarks/results/``.
"""

import dataclasses
import json
import os
import re
import shlex
import subprocess
import threading
import time
from typing import List, Optional, Tuple


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
    """The resident memory of a process tree every ``interval`` seconds: (s, MB) pairs."""

    def __init__(self, pid: int, interval: float = 1.0):
        super().__init__(daemon=True)
        self.pid, self.interval, self.samples = pid, interval, []
        self._done = threading.Event()
        self._t0 = time.perf_counter()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            mb = sum(rss_mb(p) for p in process_tree(self.pid))
            self.samples.append((round(time.perf_counter() - self._t0, 1), round(mb)))

    def stop(self) -> List[Tuple[float, int]]:
        self._done.set()
        self.join()
        return self.samples


@dataclasses.dataclass(frozen=True)
class Timed:
    wall_s: float                 # unrounded; each benchmark rounds as its JSON has it
    peak_rss_mb: int
    stdout: str
    stderr: str
    samples: List[Tuple[float, int]]  # the tree's RSS over the run (with ``sample_every``)


def run_timed(cmd: List[str], cwd: Optional[str] = None,
              sample_every: Optional[float] = None) -> Timed:
    """Runs ``cmd`` under /usr/bin/time -v; a failure ends the benchmark with its stderr."""
    started = time.perf_counter()
    proc = subprocess.Popen(['/usr/bin/time', '-v', *cmd], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(proc.pid, sample_every) if sample_every else None
    if sampler:
        sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    samples = sampler.stop() if sampler else []
    if proc.returncode:
        raise SystemExit(f'{shlex.join(cmd)} failed ({proc.returncode}):\n{stderr[-3000:]}')
    rss_kb = int(re.search(r'Maximum resident set size \(kbytes\): (\d+)', stderr).group(1))
    return Timed(wall, round(rss_kb / 1024), stdout, stderr, samples)


def write_json(path: str, result) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(result, f, indent=2)
