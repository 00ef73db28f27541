"""Commands run the way a user runs them: ``python -m pipeline.cli`` in its own process."""

import os
import subprocess
import sys
import time
from typing import Callable, List

from tests.support.paths import ROOT

# Model flags small enough for a job on a few hundred reviews to train in seconds.
TINY_MODEL = ['--embedding-dim', '8', '--lstm-units', '8', '--dense-units', '8',
              '--batch-size', '16']

# Start-up lines of the libraries that a user must never see.
NOISE = ('E0000', 'I0000', 'W0000', 'oneDNN', 'instance dicts', 'absl::InitializeLog',
         'Resource module is not available', 'shuffle=True', 'cuInit')


def start(args: List[str]) -> subprocess.Popen:
    """``imdb-sentiment ARGS`` in a child process, its output piped and unbuffered."""
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    return subprocess.Popen([sys.executable, '-m', 'pipeline.cli', *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    """Polls ``predicate`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def clean_env() -> dict:
    """The environment without the settings that quiet the libraries, as a user's shell has."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('TF_CPP_MIN_LOG_LEVEL', 'IMDB_SENTIMENT_LOG', 'ABSL_MIN_LOG_LEVEL')}
    env['PYTHONPATH'] = ROOT
    return env


def sdk_workers(pid: int) -> List[int]:
    """The Beam SDK worker processes below ``pid`` (the DirectRunner's multi-processing mode),
    not the ``/bin/sh -c`` that started each."""
    from pipeline.runtime.local_cores import descendants
    found = []
    for child in descendants(pid):
        try:
            with open(f'/proc/{child}/cmdline', 'rb') as f:
                argv = f.read().split(b'\0')
            if argv[1:3] == [b'-m', b'apache_beam.runners.worker.sdk_worker_main']:
                found.append(child)
        except OSError:
            pass
    return found


class SdkWorkerWatch:
    """Context manager: the SDK worker processes seen below this process while the block ran
    (``pids``), polled from a thread every 0.2 s."""

    def __init__(self):
        import threading
        self.pids = set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._done.wait(0.2):
            self.pids.update(sdk_workers(os.getpid()))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
