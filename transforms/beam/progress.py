"""Signs of life from long work: a running record count from inside a Beam job, and the time
something visible last happened, which the launcher's heartbeat
(``pipeline.runtime.console.Heartbeat``) reads so that slow work never looks like a hang.

On the DirectRunner the workers run in this process, so ``LogProgress``'s lines reach the
user's terminal as they happen; on a cluster they land in the worker logs, and the job's
counters (``progress:<name>``) in the runner's UI.
"""

import logging
import threading
import time
from typing import Dict

import apache_beam as beam

_LOG = logging.getLogger(__name__)
# A DoFn logs its running count at most this often, from each worker.
LOG_EVERY_S = 10.0

# Records counted in this process, by name: the heartbeat reports them (DirectRunner).
_counted: Dict[str, int] = {}
_lock = threading.Lock()
# When the user last saw a sign of life: a log line, or a progress bar's update (touch()).
_last_activity = [time.monotonic()]


def touch() -> None:
    """Tells the heartbeat that something visible just happened (e.g. a progress bar moved)."""
    _last_activity[0] = time.monotonic()


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


def reset() -> None:
    """Forgets the counts: a new piece of work starts."""
    with _lock:
        _counted.clear()
    touch()


def idle_s() -> float:
    """Seconds since the last sign of life."""
    return time.monotonic() - _last_activity[0]
