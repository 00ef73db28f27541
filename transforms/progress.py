"""Progress for long work: a running record count from inside a Beam job, and a heartbeat
that speaks when nothing else has for a while, so that slow work never looks like a hang.

On the DirectRunner the workers run in this process, so ``LogProgress``'s lines reach the
user's terminal as they happen; on a cluster they land in the worker logs, and the job's
counters (``progress:<name>``) in the runner's UI.
"""

import logging
import threading
import time
from typing import Dict, Optional

import apache_beam as beam

_LOG = logging.getLogger(__name__)
# A DoFn logs its running count at most this often, from each worker.
LOG_EVERY_S = 10.0
# The heartbeat speaks after this long without any log line.
HEARTBEAT_S = 20.0

# Records counted in this process, by name: the heartbeat reports them (DirectRunner).
_counted: Dict[str, int] = {}
_lock = threading.Lock()
# When the user last saw a sign of life: a log line, or a progress bar's update (touch()).
_last_activity = [time.monotonic()]


def touch() -> None:
    """Tells the heartbeat that something visible just happened (e.g. a progress bar moved)."""
    _last_activity[0] = time.monotonic()


class _LastLine(logging.Filter):
    """Notes every log line written, whoever wrote it."""

    def filter(self, record: logging.LogRecord) -> bool:
        touch()
        return True


class LogProgress(beam.DoFn):
    """Pass-through DoFn: counts the elements it sees (a Beam counter) and logs the running
    count at most every ``LOG_EVERY_S`` seconds per worker."""

    def __init__(self, name: str, every_s: float = LOG_EVERY_S):
        self._name = name
        self._every_s = every_s
        self._seen = 0
        self._logged_at = 0.0

    def setup(self) -> None:
        self._counter = beam.metrics.Metrics.counter('progress', self._name)
        self._logged_at = time.monotonic()

    def process(self, element):
        self._seen += 1
        self._counter.inc()
        with _lock:
            _counted[self._name] = _counted.get(self._name, 0) + 1
        now = time.monotonic()
        if now - self._logged_at >= self._every_s:
            self._logged_at = now
            _LOG.info('%s: %s so far', self._name, f'{self._seen:,}')
        yield element


def counted() -> Dict[str, int]:
    """Records counted by LogProgress in this process so far, by name."""
    with _lock:
        return dict(_counted)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f'{minutes} min {secs:02d} s' if minutes else f'{secs} s'


class Heartbeat:
    """Context manager: while the block runs, logs ``<what>: still working (…)`` whenever
    no log line has been written for ``every_s`` seconds (a daemon thread)."""

    def __init__(self, what: str, every_s: float = HEARTBEAT_S,
                 logger: Optional[logging.Logger] = None):
        self._what = what
        self._every_s = every_s
        self._log = logger or _LOG
        self._stop = threading.Event()
        self._filter = _LastLine()
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> 'Heartbeat':
        self._started = time.monotonic()
        with _lock:
            _counted.clear()
        self._handlers = list(logging.getLogger().handlers)
        for handler in self._handlers:
            handler.addFilter(self._filter)
        self._thread = threading.Thread(target=self._beat, name='heartbeat', daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        for handler in self._handlers:
            handler.removeFilter(self._filter)

    def _beat(self) -> None:
        touch()
        while not self._stop.wait(1.0):
            if time.monotonic() - _last_activity[0] >= self._every_s:
                done = ', '.join(f'{n} {c:,}' for n, c in counted().items())
                self._log.info('%s: still working (%s elapsed%s)', self._what,
                               _duration(time.monotonic() - self._started),
                               f'; records: {done}' if done else '')
