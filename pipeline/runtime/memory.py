"""Whether preprocess fits this machine's memory on the DirectRunner, said before it starts.

On the DirectRunner a preprocess's peak memory grows a little with its input (issue 21). It
grew by about its input in each of its two passes over the reviews until b31fb42, which
removed the holder (tf.Transform's coder kept every review's text: see
``transforms/beam/record_batches.py``). Measured since, on reviews of the shared data's kind,
default flags (``benchmarks/results/scale-preprocess-coder-1m.json`` and
``scale-preprocess-coder-100k.json``):

    input      25k reviews, 32 MB    100k, 129 MB    1M, 1,290 MB   (MB: 2**20 bytes)
    peak RSS   1,323 MB              1,386 MB        1,478 MB

so the estimate is ``BASE_MB + SLOPE x (input MB - BASE_INPUT_MB)``. What still grows was not
pinned down: the live ``malloc`` heap late in the transform pass was the same at 25k and 100k
reviews (heaptrack), so most likely it is freed memory the allocator keeps. A cluster runner
spreads the same passes over its workers' bundles and is not estimated here.

In worker processes (``--direct_running_mode=multi_processing``, the default for a big input:
``pipeline/runtime/local_cores.py``) every worker imports Beam, TensorFlow and tf.Transform
again: the estimate adds ``WORKER_MB`` for each, the launcher keeping the whole single-process
estimate (an upper bound: the workers do that work, not the launcher). Measured at 2,000 reviews
(2.6 MB) with two workers: the process tree peaked at 2,758 MB (the launcher 947 MB, the workers
886 and 924 MB, their shells 2 MB each) where one process peaked at 1,074 MB; the estimate says
2,874 MB. ``affordable_workers`` is how many workers this machine's available memory holds.

``check_direct_memory`` logs a warning when the estimate is past 1.3 times the same run's at
25k reviews (about 3.2 GB of reviews in one process), and stops the job (a usage error, exit 2,
before any work) when it is more than the memory this machine has available, unless the user
asked to try anyway.
"""

import logging
import os
from typing import Iterable, Optional

from pipeline.runtime.runners import is_direct
from transforms.errors import UserError

_LOG = logging.getLogger(__name__)

BASE_MB = 1323            # peak RSS of preprocess at 25k reviews
BASE_INPUT_MB = 32        # their input
MB_1M = 1290              # the input of 1M such reviews
SLOPE = 0.123             # MB of peak RSS per MB of input beyond that
WORKER_MB = 900           # one DirectRunner worker process (886 and 924 MB at 2,000 reviews)
WARN_RATIO = 1.3          # issue 21's bound: past it, the DirectRunner is the wrong place
CLUSTER_HINT = ('run it on a cluster (--runner=FlinkRunner or SparkRunner; `make flink-up` '
                'starts a local one), or give it fewer reviews')


class NotEnoughMemory(UserError):
    """The estimate of a DirectRunner run is more than the machine has available."""


def estimate_mb(input_bytes: int, workers: int = 1) -> int:
    """The DirectRunner preprocess's peak RSS for ``input_bytes`` of reviews, in MB: of all
    its processes, the launcher and its ``workers`` worker processes (1: it runs in one)."""
    input_mb = input_bytes / 2 ** 20
    launcher = BASE_MB + SLOPE * max(0.0, input_mb - BASE_INPUT_MB)
    return round(launcher + (WORKER_MB * workers if workers > 1 else 0))


def affordable_workers(available: Optional[int] = None) -> Optional[int]:
    """How many worker processes fit in this machine's available memory beside the launcher
    (None where it cannot be known)."""
    available = available_mb() if available is None else available
    if available is None:
        return None
    return max(0, (available - BASE_MB) // WORKER_MB)


def available_mb() -> Optional[int]:
    """MemAvailable of /proc/meminfo in MB; None where there is no such file."""
    try:
        with open('/proc/meminfo', encoding='ascii') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        pass
    return None


def input_bytes(files: Iterable[str]) -> int:
    """The summed size of local ``files`` (object-store paths count 0: not estimated)."""
    total = 0
    for path in files:
        if '://' not in path:
            try:
                total += os.path.getsize(path)
            except OSError:
                pass
    return total


def check_direct_memory(job: str, files: Iterable[str], runner: Optional[str],
                        try_anyway: bool = False, available: Optional[int] = None,
                        workers: int = 1) -> None:
    """Warns, or raises NotEnoughMemory, before a DirectRunner run in ``workers`` worker
    processes (1: in this process) (see the module doc)."""
    if not is_direct(runner):
        return
    size = input_bytes(files)
    estimate = estimate_mb(size, workers)
    at_25k = estimate_mb(BASE_INPUT_MB * 2 ** 20, workers)
    if estimate <= WARN_RATIO * at_25k:
        return
    available = available_mb() if available is None else available
    where = f' in {workers} worker processes' if workers > 1 else ''
    said = (f'{job}: {size / 2 ** 20:,.0f} MB of reviews; on the DirectRunner{where} this job '
            f'needs about {estimate / 1024:.1f} GB of memory (it grows with the input: '
            f'{at_25k / 1024:.1f} GB at 25k reviews, '
            f'{estimate_mb(MB_1M * 2 ** 20, workers) / 1024:.1f} GB at 1M)')
    if available is not None and estimate > available and not try_anyway:
        fewer = (', or --direct_num_workers=1 (one process)'
                 if workers > 1 and estimate_mb(size) <= available else '')
        raise NotEnoughMemory(
            f'{said}, and this machine has {available / 1024:.1f} GB available: {CLUSTER_HINT}'
            f'{fewer}; --ignore-memory-estimate tries anyway')
    _LOG.warning('%s%s; for more, %s.', said,
                 f' of the {available / 1024:.1f} GB available' if available else '',
                 CLUSTER_HINT)
