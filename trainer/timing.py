"""One clock for the trainer's timings (the manifest's ``timings_s``)."""

import contextlib
import time
from typing import Dict, Iterator


class Clock:
    """Wall seconds per named part, in the order they ran: ``with clock('lstm'): ...``."""

    def __init__(self):
        self.seconds: Dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = round(time.monotonic() - started, 1)
