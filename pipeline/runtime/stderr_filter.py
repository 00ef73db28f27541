"""Drops TensorFlow's native start-up lines from the process's stderr.

TensorFlow 2.21 writes lines such as ``I0000 ... oneDNN custom operations are on``,
``E0000 ... failed call to cuInit`` and ``WARNING: All log messages before
absl::InitializeLog() is called are written to STDERR`` from C++ (absl logging) at
import, before ``TF_CPP_MIN_LOG_LEVEL`` is read (tensorflow/tensorflow#100442), so no
setting hides them. A user reads ``E0000`` as an error. They are written to file
descriptor 2 directly, so the only place to drop them is there: fd 2 becomes a pipe, and a
thread copies everything to the real stderr except those lines. Everything else passes
unchanged, and a partial line (a progress bar's ``\\r``) passes at once.
"""

import atexit
import os
import re
import threading
from typing import Optional

# absl's format (I0000 00:00:1795997020.213092    3684 port.cc:153] ...) and TensorFlow's
# older one (2026-11-30 00:03:36.100: I tensorflow/...cc:31] ...): info and warning lines.
_NATIVE_INFO = re.compile(
    rb'^([IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]'
    rb'|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IW] \S+:\d+\]'
    rb'|WARNING: All log messages before absl::InitializeLog\(\) is called)')
# Native errors that are not errors for this product (no GPU, or its plugins registered twice).
_NATIVE_NOISE = re.compile(
    rb'^(E\d{4} |\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: E ).*('
    rb'failed call to cuInit|Unable to register cu\w+ factory|cuda_diagnostics|'
    rb'Could not find cuda drivers|oneDNN)')
# What a native line may start with: a partial line that cannot be one passes at once.
_MAYBE_NATIVE = re.compile(rb'^([IWE]\d{0,4}|W[A-Z]*|\d)')

_installed: Optional[threading.Thread] = None


def is_noise(line: bytes) -> bool:
    """True for TensorFlow's native info/warning lines and its known harmless errors."""
    return bool(_NATIVE_INFO.match(line) or _NATIVE_NOISE.match(line))


def _write(fd: int, data: bytes) -> None:
    """Best effort: if the real stderr is gone (a closed pipe), the data is dropped, but the
    pump keeps draining, so that writers to fd 2 never block on a full pipe."""
    try:
        os.write(fd, data)
    except OSError:
        pass


def _pump(read_fd: int, write_fd: int) -> None:
    tail = b''
    while True:
        try:
            chunk = os.read(read_fd, 65536)
        except OSError:
            chunk = b''
        if not chunk:
            break
        *lines, tail = (tail + chunk).split(b'\n')
        out = b''.join(line + b'\n' for line in lines if not is_noise(line))
        if tail and (b'\r' in tail or not _MAYBE_NATIVE.match(tail)):
            out, tail = out + tail, b''
        if out:
            _write(write_fd, out)
    if tail and not is_noise(tail):
        _write(write_fd, tail)
    os.close(read_fd)


def install() -> None:
    """Filters fd 2 from now on, for this process and the processes it starts (once)."""
    global _installed
    if _installed is not None:
        return
    try:
        real = os.dup(2)
    except OSError:
        return  # no stderr at all
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    _installed = threading.Thread(target=_pump, args=(read_fd, real), name='stderr-filter',
                                  daemon=True)
    _installed.start()

    def restore() -> None:
        # Give fd 2 back, which closes the pipe's last writer here: the thread drains it.
        import sys
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(real, 2)
        _installed.join(timeout=2)

    atexit.register(restore)
