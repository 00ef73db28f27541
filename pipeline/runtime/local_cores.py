"""All of this machine's cores for a DirectRunner job: how many worker processes, chosen
before the job starts, and the processes kept in hand while it runs.

Beam's DirectRunner runs a job in the launching process, on one core, unless it is given
``--direct_running_mode=multi_processing --direct_num_workers=N``: it then starts N SDK worker
processes and hands them the bundles. Each worker imports Beam, TensorFlow and tf.Transform
first, which a small input does not repay. ``choose`` decides, and the launcher logs its reason:

- a ``--direct_running_mode`` or ``--direct_num_workers`` on the command line is obeyed
  (``--direct_num_workers=1`` or ``--direct_running_mode=in_memory``: one process, as before;
  ``--direct_num_workers=N`` alone adds the multi-processing mode that makes it mean processes;
  0 means every core this process may use, ``os.sched_getaffinity``, not Beam's cpu_count);
- otherwise, on the DirectRunner, a local input of at least ``MIN_INPUT_MB`` runs in one
  worker process per usable core, no more than the available memory holds
  (``memory.affordable_workers``); a smaller one (or one on an object store, whose size is not
  read) in this process.

``WorkerProcesses`` surrounds the run. Beam starts each worker as ``/bin/sh -c 'python -m
...sdk_worker_main'``, and dash does not exec the command, so killing the shell would leave the
worker running: when SIGINT or SIGTERM arrives, every process started under the launcher since
the job began gets SIGTERM at once, and on the way out any still there get SIGKILL. The workers'
record counts reach the launcher through files (``transforms/activity.py``), which it logs as
``... so far (in N worker processes)`` lines, since the workers' own log lines do not reach the
user's terminal (Beam forwards them to a logger of its own, which the console hides below
ERROR).
"""

import dataclasses
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from typing import Dict, List, Optional, Sequence, Set

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions

from pipeline.runtime import console
from pipeline.runtime.runners import is_direct, runner_key
from transforms import activity

_LOG = logging.getLogger(__name__)

MODE_FLAG = '--direct_running_mode'
WORKERS_FLAG = '--direct_num_workers'
MULTI_PROCESSING = 'multi_processing'
# Below this much input a job stays in this process: the workers' start (each imports Beam,
# TensorFlow and tf.Transform) costs more than the second core saves. On the 2-core machine,
# preprocess of 2,000 reviews (2.6 MB) took 82 s in two workers against 57 s in one process (a
# loaded machine); of 25k reviews (32 MB), 1.22x the plain pass in two workers against 1.44x in
# one. A line through the two crosses near 25 MB: 24 MB is about 18k reviews. Checked again
# alone on the cores (benchmarks/README.md, Speed): one process took 1.14x the two workers'
# time at 25k reviews, 1.58x at 100k, 1.33x at 1M.
MIN_INPUT_MB = 24
# The runners whose worker processes this module chooses (Beam's DirectRunner picks its
# FnApiRunner for a batch job, which honours the flags).
_DIRECT = ('directrunner', 'fnapirunner')
# How often the launcher logs the workers' counts, and how long workers get to end on SIGTERM.
PROGRESS_EVERY_S = 10.0
GRACE_S = 5.0


def usable_cores() -> int:
    """The cores this process may run on (its affinity: a container's or taskset's limit)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclasses.dataclass(frozen=True)
class Choice:
    """How many processes do the work, why (None: not the DirectRunner, not for this module to
    choose), and whether the multi-processing mode must be set for it (``apply``)."""
    processes: int
    reason: Optional[str]
    multi: bool = False

    def apply(self, options: PipelineOptions) -> None:
        """Sets the choice in ``options`` (a view shares its options: Beam reads the same)."""
        if self.multi:
            direct = options.view_as(DirectOptions)
            direct.direct_running_mode = MULTI_PROCESSING
            direct.direct_num_workers = self.processes


def given(beam_args: Sequence[str], flag: str) -> Optional[str]:
    """The value of ``flag`` in ``beam_args`` (``--flag=V`` or ``--flag V``), the last one
    given; None when absent."""
    value = None
    for i, arg in enumerate(beam_args):
        if arg.startswith(flag + '='):
            value = arg.split('=', 1)[1]
        elif arg == flag and i + 1 < len(beam_args):
            value = beam_args[i + 1]
    return value


def choose(beam_args: Sequence[str], runner: Optional[str], input_bytes: int,
           cores: Optional[int] = None, affordable: Optional[int] = None) -> Choice:
    """How a job runs on this machine's cores (see the module doc). ``beam_args``: the command
    line, to tell a flag given from Beam's default; ``affordable``: how many workers the
    available memory holds (``memory.affordable_workers``; None: unknown)."""
    if runner_key(runner) not in _DIRECT:
        return Choice(1, None)
    cores = cores or usable_cores()
    mode, workers = given(beam_args, MODE_FLAG), given(beam_args, WORKERS_FLAG)
    try:
        count = None if workers is None else int(workers)
    except ValueError:
        return Choice(1, f'{WORKERS_FLAG}={workers} is left to Beam')
    if count == 0:
        count = cores
    if mode is not None and mode != MULTI_PROCESSING:
        return Choice(1, f'{MODE_FLAG}={mode} asks for this process')
    if mode == MULTI_PROCESSING or (count is not None and count > 1):
        count = count or cores
        return Choice(count, f'{WORKERS_FLAG}={count} asks for it', multi=True)
    if count == 1:
        return Choice(1, f'{WORKERS_FLAG}=1 asks for this process')
    size = f'{input_bytes / 2 ** 20:,.1f} MB of input'
    if cores < 2:
        return Choice(1, 'this process may use one core only')
    if input_bytes < MIN_INPUT_MB * 2 ** 20:
        return Choice(1, f'{size}, under {MIN_INPUT_MB} MB: starting worker processes would '
                         f'cost more than they save ({WORKERS_FLAG}=N uses them anyway)')
    workers_n = cores if affordable is None else min(cores, affordable)
    if workers_n < 2:
        return Choice(1, f'{size}, but the memory available holds {affordable} worker '
                         'process(es) beside this one')
    limit = f' (the memory available holds {affordable})' if workers_n < cores else ''
    return Choice(workers_n, f'{size}, one process on each of {workers_n} of the {cores} usable '
                             f'cores{limit}; {WORKERS_FLAG}=1 keeps it in this process',
                  multi=True)


def describe(choice: Choice) -> str:
    """Where the work runs, for the job's log line."""
    where = (f'in {choice.processes} worker processes' if choice.processes > 1
             else 'in this process')
    return f'{where}: {choice.reason}'


def worker_processes(options: PipelineOptions) -> int:
    """How many worker processes ``options`` run a DirectRunner job in (1: this process)."""
    if not is_direct(options.view_as(StandardOptions).runner):
        return 1
    direct = options.view_as(DirectOptions)
    if direct.direct_running_mode != MULTI_PROCESSING:
        return 1
    return direct.direct_num_workers or usable_cores()


def descendants(pid: int) -> List[int]:
    """Every process below ``pid`` (children, their children...), from /proc's parent ids."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat', encoding='ascii', errors='replace') as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: the name may hold spaces and parentheses.
        ppid = int(stat.rsplit(')', 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, frontier = [], [pid]
    while frontier:
        for child in children.get(frontier.pop(), []):
            found.append(child)
            frontier.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        with open(f'/proc/{pid}/stat', encoding='ascii', errors='replace') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


class WorkerProcesses:
    """Context manager around a run in ``processes`` worker processes (nothing for one):
    their counts logged, and on a signal or on the way out, none left running (module doc)."""

    def __init__(self, job: str, processes: int, every_s: Optional[float] = None):
        self._job, self._processes = job, processes
        self._every_s = PROGRESS_EVERY_S if every_s is None else every_s
        self._before: Set[int] = set()
        self._seen: Set[int] = set()
        self._folder: Optional[str] = None
        self._env_before: Optional[str] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._unregister = None
        self._excepthook = threading.excepthook

    def __enter__(self) -> 'WorkerProcesses':
        if self._processes <= 1:
            return self
        self._before = set(descendants(os.getpid()))
        self._folder = tempfile.mkdtemp(prefix='imdb-sentiment-progress-')
        self._env_before = os.environ.get(activity.PROGRESS_DIR_ENV)
        os.environ[activity.PROGRESS_DIR_ENV] = self._folder
        self._unregister = console.on_stop(self.terminate)
        self._excepthook = threading.excepthook
        threading.excepthook = self._quiet_when_stopped
        self._thread = threading.Thread(target=self._report, name='worker-progress',
                                         daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._folder is None:
            return
        self._stop.set()
        self._thread.join()
        self._unregister()
        self.terminate()
        self._wait_or_kill()
        if console.received_signal() is None:  # else Beam's threads may yet raise: stay quiet
            threading.excepthook = self._excepthook
        if self._env_before is None:
            os.environ.pop(activity.PROGRESS_DIR_ENV, None)
        else:
            os.environ[activity.PROGRESS_DIR_ENV] = self._env_before
        shutil.rmtree(self._folder, ignore_errors=True)

    def _started(self) -> List[int]:
        """The processes below this one that the job started."""
        return [p for p in descendants(os.getpid()) if p not in self._before]

    def terminate(self) -> None:
        """SIGTERM to every process the job started (the shells and the workers below them),
        all found before any is signalled, so that none is orphaned unseen. Safe in a signal
        handler: no waiting, no logging."""
        for pid in self._started():
            self._seen.add(pid)
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass

    def _wait_or_kill(self) -> None:
        """Waits up to ``GRACE_S`` for the processes signalled to end, then SIGKILLs the rest."""
        deadline = time.monotonic() + GRACE_S
        while time.monotonic() < deadline and any(alive(p) for p in self._seen):
            time.sleep(0.1)
        for pid in self._seen:
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def _quiet_when_stopped(self, args) -> None:
        """Once a signal stopped the job, Beam's thread that watched each worker raises because
        its worker was killed (``Worker subprocess exited with return code -15``): no news to
        the user, who asked for it. Any other thread's error is printed as ever."""
        if console.received_signal() is not None and args.thread is not None and \
                args.thread.name == 'run_worker':
            return
        self._excepthook(args)

    def _report(self) -> None:
        """Logs the workers' counts every ``every_s`` seconds while they change."""
        last: Dict[str, int] = {}
        while not self._stop.wait(self._every_s):
            counts = activity.counted_elsewhere()
            if counts and counts != last:
                last = counts
                _LOG.info('%s: %s (in %d worker processes)', self._job,
                          '; '.join(f'{name}: {n:,} so far' for name, n in counts.items()),
                          self._processes)
