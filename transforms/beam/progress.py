"""A running record count from inside a Beam job: a Beam counter (``progress:<name>``, in the
runner's UI on a cluster), a log line at most every ``LOG_EVERY_S`` seconds per worker (in
your terminal on the DirectRunner, in the worker logs on a cluster), and the process's count
that the launcher's heartbeat reports (``transforms.activity``).
"""

import logging
import time

import apache_beam as beam

from transforms import activity

_LOG = logging.getLogger(__name__)
# A DoFn logs its running count at most this often, from each worker.
LOG_EVERY_S = 10.0


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
        activity.count(self._name)
        now = time.monotonic()
        if now - self._logged_at >= self._every_s:
            self._logged_at = now
            _LOG.info('%s: %s so far', self._name, f'{self._seen:,}')
        yield element
