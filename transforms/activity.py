"""Signs of life from long work, without Beam or TensorFlow: the records counted so far and
when something visible last happened. Beam stages count (``transforms.beam.progress``), the
trainer's progress bar touches, and the launcher's heartbeat
(``pipeline.runtime.console.Heartbeat``) reads both, so slow work never looks like a hang.

On the DirectRunner in one process the counting stages run in the launcher, so the counts are
simply here. With worker processes (``--direct_running_mode=multi_processing``) they run
elsewhere: the launcher then names a folder in ``IMDB_SENTIMENT_PROGRESS_DIR``, which the
workers inherit; each process writes its counts there as ``<pid>.json`` at most every
``SHARE_EVERY_S`` seconds, and ``counted`` adds up the other processes' files.
"""

import json
import os
import threading
import time
from typing import Dict

# The folder where processes leave their counts for the launcher (set by the launcher only).
PROGRESS_DIR_ENV = 'IMDB_SENTIMENT_PROGRESS_DIR'
# A process writes its counts there at most this often.
SHARE_EVERY_S = 1.0

# Records counted in this process, by name.
_counted: Dict[str, int] = {}
_lock = threading.Lock()
_shared_at = [0.0]
# When the user last saw a sign of life: a log line, or a progress bar's update.
_last_activity = [time.monotonic()]


def touch() -> None:
    """Something visible just happened (a log line, a progress bar moved)."""
    _last_activity[0] = time.monotonic()


def count(name: str, n: int = 1) -> None:
    with _lock:
        _counted[name] = _counted.get(name, 0) + n
        folder = os.environ.get(PROGRESS_DIR_ENV)
        if folder and time.monotonic() - _shared_at[0] >= SHARE_EVERY_S:
            _shared_at[0] = time.monotonic()
            _share(folder, dict(_counted))


def _share(folder: str, counts: Dict[str, int]) -> None:
    """Writes this process's counts where the launcher reads them. Progress is a courtesy: a
    folder that is gone (the job is ending) fails nothing."""
    try:
        with open(os.path.join(folder, f'{os.getpid()}.json'), 'w', encoding='utf-8') as f:
            json.dump(counts, f)
    except OSError:
        pass


def counted_elsewhere() -> Dict[str, int]:
    """The counts other processes left in ``IMDB_SENTIMENT_PROGRESS_DIR``, added up by name.
    A file caught half-written is skipped this time."""
    folder = os.environ.get(PROGRESS_DIR_ENV)
    total: Dict[str, int] = {}
    if not folder:
        return total
    try:
        names = os.listdir(folder)
    except OSError:
        return total
    for name in names:
        if name == f'{os.getpid()}.json':
            continue
        try:
            with open(os.path.join(folder, name), encoding='utf-8') as f:
                counts = json.load(f)
        except (OSError, ValueError):
            continue
        for key, n in counts.items():
            total[key] = total.get(key, 0) + n
    return total


def counted() -> Dict[str, int]:
    """Records counted so far, by name: in this process and in the worker processes that
    share their counts with it."""
    with _lock:
        total = dict(_counted)
    for key, n in counted_elsewhere().items():
        total[key] = total.get(key, 0) + n
    return total


def reset() -> None:
    """Forgets the counts: a new piece of work starts."""
    with _lock:
        _counted.clear()
    touch()


def idle_s() -> float:
    """Seconds since the last sign of life."""
    return time.monotonic() - _last_activity[0]
