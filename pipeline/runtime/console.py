"""What the user sees of a running command: logging, signals, and a heartbeat.

Logging shows our progress at INFO and hides the libraries' warnings (which are not the
user's to act on) unless ``IMDB_SENTIMENT_LOG`` asks for them. SIGINT and SIGTERM unwind
the main thread like Ctrl-C, so staging folders are removed on the way out. The heartbeat
speaks when nothing else has for a while, so slow work never looks like a hang.
"""

import logging
import os
import signal
import threading
import time
from typing import Callable, List, Optional

from transforms import activity

_LOG = logging.getLogger(__name__)

# The libraries whose warnings are not the user's to act on (TensorFlow's start-up notes,
# tf.Transform's "instance dicts", Keras' "shuffle=True ... ignored", Beam's "Resource
# module is not available"): shown only when IMDB_SENTIMENT_LOG asks for them.
_LIBRARY_LOGGERS = ('tensorflow', 'absl', 'apache_beam', 'tensorflow_transform', 'tfx_bsl',
                    'keras', 'h5py', 'matplotlib', 'py.warnings')
_OUR_PACKAGES = ('pipeline', 'transforms', 'trainer', 'analysis')


def configure_logging() -> None:
    """Our progress at INFO; the libraries' warnings demoted out of sight, their errors kept
    (IMDB_SENTIMENT_LOG=DEBUG, INFO or WARNING shows the libraries from that level).

    Runs before TensorFlow is imported: its C++ logging reads TF_CPP_MIN_LOG_LEVEL once,
    at import. The lines it writes before reading it ("I0000 ... oneDNN custom operations
    are on", "E0000 ... failed call to cuInit") are dropped from stderr by
    pipeline.runtime.stderr_filter."""
    level = os.environ.get('IMDB_SENTIMENT_LOG')
    if level != 'DEBUG':
        from pipeline.runtime import stderr_filter
        stderr_filter.install()
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '0' if level == 'DEBUG' else '3')
    os.environ.setdefault('ABSL_MIN_LOG_LEVEL', '0' if level == 'DEBUG' else '3')
    os.environ.setdefault('GRPC_VERBOSITY', 'ERROR')
    logging.basicConfig(level=level or 'ERROR', format='%(asctime)s %(levelname)s %(message)s')
    logging.captureWarnings(True)  # warnings.warn() -> the py.warnings logger
    for name in _LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(level or 'ERROR')
    for package in _OUR_PACKAGES:
        logging.getLogger(package).setLevel(level or 'INFO')
    try:
        from absl import logging as absl_logging  # already loaded by Beam: no cost
        absl_logging.set_verbosity(absl_logging.DEBUG if level == 'DEBUG' else absl_logging.ERROR)
    except ImportError:
        pass


class Stopped(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM arrives, so that staging folders are removed
    on the way out exactly as for Ctrl-C."""


SIGNALS = {signal.SIGINT: 'interrupted (SIGINT)', signal.SIGTERM: 'terminated (SIGTERM)'}
_received: List[int] = []
# Called first when a signal arrives, before the unwind: what must stop at once (the
# DirectRunner's worker processes, which would otherwise run on until the unwind reaches them).
_on_stop: List[Callable[[], None]] = []


def on_stop(callback: Callable[[], None]) -> Callable[[], None]:
    """Calls ``callback`` when SIGINT or SIGTERM arrives; returns what un-registers it."""
    _on_stop.append(callback)
    return lambda: _on_stop.remove(callback) if callback in _on_stop else None


def _on_signal(signum: int, frame) -> None:
    _received.append(signum)
    for callback in list(_on_stop):
        callback()
    # Beam logs the exception this raises inside a bundle, with its traceback, as it
    # unwinds; the one line the command line prints is what the user needs.
    logging.disable(logging.CRITICAL)
    raise Stopped(signum) if signum != signal.SIGINT else KeyboardInterrupt()


def install_signal_handlers() -> None:
    if threading.current_thread() is threading.main_thread():
        for signum in SIGNALS:
            signal.signal(signum, _on_signal)


def resume_logging() -> None:
    """Logs again after a signal silenced the log (``_on_signal``): for a command that
    outlives the job it stopped (a backfill's summary)."""
    logging.disable(logging.NOTSET)


def received_signal() -> Optional[int]:
    """The last SIGINT or SIGTERM this process received, if any."""
    return _received[-1] if _received else None


# The heartbeat speaks after this long without any log line.
HEARTBEAT_S = 20.0


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f'{minutes} min {secs:02d} s' if minutes else f'{secs} s'


class _LastLine(logging.Filter):
    """Notes every log line written, whoever wrote it."""

    def filter(self, record: logging.LogRecord) -> bool:
        activity.touch()
        return True


class Heartbeat:
    """Context manager: while the block runs, logs ``<what>: still working (…)`` whenever
    no log line has been written for ``every_s`` seconds (a daemon thread). Nested, only the
    outermost one speaks (``run`` has one per step; the jobs inside have their own)."""

    _active = threading.local()

    def __init__(self, what: str, every_s: float = HEARTBEAT_S,
                 logger: Optional[logging.Logger] = None):
        self._what = what
        self._every_s = every_s
        self._log = logger or _LOG
        self._stop = threading.Event()
        self._filter = _LastLine()
        self._thread: Optional[threading.Thread] = None
        self._handlers: List[logging.Handler] = []

    def __enter__(self) -> 'Heartbeat':
        if getattr(Heartbeat._active, 'on', False):
            return self
        Heartbeat._active.on = True
        self._started = time.monotonic()
        activity.reset()
        self._handlers = list(logging.getLogger().handlers)
        for handler in self._handlers:
            handler.addFilter(self._filter)
        self._thread = threading.Thread(target=self._beat, name='heartbeat', daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        for handler in self._handlers:
            handler.removeFilter(self._filter)
        Heartbeat._active.on = False

    def _beat(self) -> None:
        activity.touch()
        while not self._stop.wait(1.0):
            if activity.idle_s() >= self._every_s:
                done = ', '.join(f'{n} {c:,}' for n, c in activity.counted().items())
                self._log.info('%s: still working (%s elapsed%s)', self._what,
                               _duration(time.monotonic() - self._started),
                               f'; records: {done}' if done else '')
