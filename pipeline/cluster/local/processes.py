"""Long-running service processes, started detached and stopped by their pid files only.

A pid file holds the pid and the process's start time (field 22 of ``/proc/<pid>/stat``), so a
stop never signals an unrelated process that happens to reuse the pid after a reboot or a crash.
Nothing here looks processes up by name. Linux only (``/proc``).
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from typing import Callable, Dict, List, Optional


def _stat_fields(pid: int) -> Optional[List[str]]:
    """The fields of /proc/<pid>/stat after the command name, or None if there is no such pid."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()
    except (OSError, IndexError):
        return None


def start_time(pid: int) -> Optional[str]:
    """Clock ticks after boot at which ``pid`` started (stable for the process's life)."""
    fields = _stat_fields(pid)
    return fields[19] if fields else None


def alive(pid: int) -> bool:
    """Running (not exited, not a zombie awaiting its parent)."""
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] != 'Z'


def children(pid: int) -> List[int]:
    """The pids whose parent is ``pid``."""
    found = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields and fields[1] == str(pid):
                found.append(int(entry))
    return found


def start(name: str, argv: List[str], pid_dir: str, log_path: str,
          env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None) -> int:
    """Starts ``argv`` in its own session (a Ctrl-C in the launcher does not reach it), output to
    ``log_path``, and records it in ``<pid_dir>/<name>.pid``. Returns the pid."""
    os.makedirs(pid_dir, exist_ok=True)
    with open(log_path, 'ab') as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)
    record = {'name': name, 'pid': proc.pid, 'start_time': start_time(proc.pid),
              'argv': argv, 'log': log_path}
    with open(os.path.join(pid_dir, f'{name}.pid'), 'w') as f:
        json.dump(record, f)
    return proc.pid


def recorded(pid_dir: str) -> List[Dict]:
    """The records of every pid file in ``pid_dir``, oldest first."""
    if not os.path.isdir(pid_dir):
        return []
    records = []
    for name in os.listdir(pid_dir):
        if name.endswith('.pid'):
            path = os.path.join(pid_dir, name)
            try:
                with open(path) as f:
                    record = json.load(f)
            except (OSError, ValueError):
                continue
            record['pid_file'] = path
            records.append(record)
    return sorted(records, key=lambda r: os.path.getmtime(r['pid_file']))


def is_running(record: Dict) -> bool:
    """The process of a pid-file record is still the one we started, and still running."""
    return alive(record['pid']) and start_time(record['pid']) == record.get('start_time')


def stop(record: Dict, timeout: float = 20.0) -> bool:
    """SIGTERM, wait up to ``timeout``, SIGKILL: the recorded process, then any child it left
    behind (a worker pool's SDK harnesses). Removes the pid file. True if it was running."""
    was_running = is_running(record)
    if was_running:
        left = children(record['pid'])
        _end(record['pid'], timeout)
        for pid in left:
            _end(pid, timeout)
    try:
        os.remove(record['pid_file'])
    except (KeyError, OSError):
        pass
    return was_running


def _end(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    try:
        os.kill(pid, signal.SIGTERM)
        while time.monotonic() < deadline and alive(pid):
            _reap(pid)
            time.sleep(0.2)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _reap(pid)


def _reap(pid: int) -> None:
    """Collects the exit status of our own child, so it does not stay a zombie (no-op otherwise)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_for(what: str, ready: Callable[[], bool], timeout: float, pids: List[int],
             logs: Callable[[], str]) -> None:
    """Polls ``ready`` until true; fails early if one of ``pids`` exits, or after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in pids:
            if not alive(pid):
                raise RuntimeError(f'{what}: process {pid} exited\n{logs()}')
        if ready():
            return
        time.sleep(0.5)
    raise RuntimeError(f'{what}: not ready after {timeout:.0f}s\n{logs()}')


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def get_json(url: str, timeout: float = 5.0):
    """GET ``url`` as JSON; None if nothing answers there yet."""
    # No proxy: the cluster is on this machine, whatever http_proxy says.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def tail(path: str, chars: int = 3000) -> str:
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - chars))
            return f.read().decode('utf-8', 'replace')
    except OSError:
        return ''
