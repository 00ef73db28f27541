"""Signs of life from long work, without Beam or TensorFlow: the records counted so far and
when something visible last happened. Beam stages count (``transforms.beam.progress``), the
trainer's progress bar touches, and the launcher's heartbeat
(``pipeline.runtime.console.Heartbeat``) reads both, so slow work never looks like a hang."""

import threading
import time
from typing import Dict

# Records counted in this process, by name (on the DirectRunner the workers run here).
_counted: Dict[str, int] = {}
_lock = threading.Lock()
# When the user last saw a sign of life: a log line, or a progress bar's update.
_last_activity = [time.monotonic()]


def touch() -> None:
    """Something visible just happened (a log line, a progress bar moved)."""
    _last_activity[0] = time.monotonic()


def count(name: str, n: int = 1) -> None:
    with _lock:
        _counted[name] = _counted.get(name, 0) + n


def counted() -> Dict[str, int]:
    """Records counted in this process so far, by name."""
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
