"""Other runners, offline: Beam's portable job service and an external worker pool, each in
its own process, and a guard that keeps a job from reaching beyond this machine.

``PortableCluster`` starts what a Flink deployment provides to the Python SDK, without Flink
and without the network: Beam's own job service (``local_job_service_main``, which runs the
job with its Fn API runner) and an external worker pool (``worker_pool_main``, which starts one
``python`` SDK harness process per worker). A job then runs with

    --runner=FlinkRunner --job_endpoint=localhost:JOB_PORT
    --environment_type=EXTERNAL --environment_config=localhost:POOL_PORT

Both services listen on 127.0.0.1 only: Beam's worker pool, and the Fn API data servers that
the job service opens per job, bind every interface (``[::]``) and have no flag to change it,
so ``python -m tests.portable job-service|worker-pool ARGS`` pins gRPC's bind address to the
loopback interface and then runs Beam's own ``main`` unchanged.

``offline()`` refuses, and fails on, any name lookup or connection beyond this machine made
from Python (downloads, Google APIs) and any start of the Flink job-server jar. gRPC's own
connections (C core) bypass it; they go only to the endpoints a test gives.
"""

import contextlib
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, List, Optional, Set
from unittest import mock

LOOPBACK = '127.0.0.1'
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LOCAL_NAMES = {None, '', 'localhost', b'localhost'}


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def worker_environment() -> Dict[str, str]:
    """os.environ with this venv's bin first on PATH: the worker pool starts a bare ``python``."""
    env = dict(os.environ)
    env['PATH'] = os.pathsep.join([os.path.join(sys.prefix, 'bin'), env.get('PATH', '')])
    env['PYTHONPATH'] = os.pathsep.join(p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
    env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    env['PYTHONUNBUFFERED'] = '1'
    return env


class Service:
    """One service process: its name, port, log file; stopped by its pid."""

    def __init__(self, name: str, args: List[str], port: int, log_path: str):
        self.name, self.port, self.log_path = name, port, log_path
        self._log = open(log_path, 'wb')
        # Its own session: a Ctrl-C in pytest reaches the services only through stop().
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'tests.portable', *args], cwd=REPO_ROOT,
            env=worker_environment(), stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True)

    def log_tail(self, chars: int = 4000) -> str:
        self._log.flush()
        with open(self.log_path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')[-chars:]

    def wait_until_listening(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f'{self.name} exited with {self.proc.returncode} before '
                                   f'listening on port {self.port}:\n{self.log_tail()}')
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f'{self.name} not listening on {LOOPBACK}:{self.port} after '
                           f'{timeout:.0f}s:\n{self.log_tail()}')

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate, wait, kill, by pid; then the same for any worker it left behind."""
        workers = _children(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        for pid in workers:  # normally gone: the job service stops them, or the pool at exit
            _end(pid, timeout)
        self._log.close()


def _children(pid: int) -> List[int]:
    """The pids whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as f:
                    ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry))
    return found


def _end(pid: int, timeout: float) -> None:
    """SIGTERM, wait up to ``timeout``, then SIGKILL: one process, by its pid."""
    deadline = time.monotonic() + timeout
    try:
        os.kill(pid, signal.SIGTERM)
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    """Running (not exited, not a zombie awaiting its parent)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


class PortableCluster:
    """The job service and the worker pool, started and stopped together."""

    def __init__(self, root: str):
        self.staging_dir = os.path.join(root, 'staging')
        os.makedirs(self.staging_dir, exist_ok=True)
        self.job_port, self.pool_port = free_port(), free_port()
        self.services: List[Service] = []
        try:
            self.job_service = self._start(
                'job service', ['job-service', '--port', str(self.job_port),
                                '--staging_dir', self.staging_dir],
                self.job_port, os.path.join(root, 'job_service.log'))
            self.worker_pool = self._start(
                'worker pool', ['worker-pool', '--service_port', str(self.pool_port)],
                self.pool_port, os.path.join(root, 'worker_pool.log'))
        except BaseException:
            self.stop()
            raise

    def _start(self, name: str, args: List[str], port: int, log_path: str) -> Service:
        service = Service(name, args, port, log_path)
        self.services.append(service)
        service.wait_until_listening()
        return service

    def flink_args(self) -> List[str]:
        return ['--runner=FlinkRunner', f'--job_endpoint=localhost:{self.job_port}',
                '--environment_type=EXTERNAL', f'--environment_config=localhost:{self.pool_port}']

    def logs(self) -> str:
        return '\n'.join(f'--- {s.name} ---\n{s.log_tail()}' for s in self.services)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()


def _is_local(host) -> bool:
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.decode() if isinstance(host, bytes) else host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def offline():
    """Within it, a lookup or connection beyond this machine, or a Flink job-server jar, is
    refused; leaving it fails if any was attempted (even when the caller caught the error)."""
    from apache_beam.runners.portability.flink_runner import FlinkRunner
    from apache_beam.utils.subprocess_server import JavaJarServer
    attempts = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def refuse(what):
        attempts.append(what)
        raise ConnectionRefusedError(f'tests are offline: {what}')

    def getaddrinfo(host, *args, **kwargs):
        if not _is_local(host):
            refuse(f'name lookup {host!r}')
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            refuse(f'connect {address!r}')
        return real_connect(sock, address)

    with mock.patch.object(socket, 'getaddrinfo', getaddrinfo), \
            mock.patch.object(socket.socket, 'connect', connect), \
            mock.patch.object(FlinkRunner, 'default_job_server',
                              side_effect=lambda *_: refuse('FlinkRunner.default_job_server')), \
            mock.patch.object(JavaJarServer, 'local_jar',
                              side_effect=lambda *_, **__: refuse('a job-server jar')):
        yield
    assert not attempts, f'the job tried to reach beyond this machine: {attempts}'


def listening_addresses(pid: int) -> Set[str]:
    """The local addresses (ip:port) on which process ``pid`` has TCP sockets in LISTEN (Linux)."""
    inodes = set()
    for fd in os.listdir(f'/proc/{pid}/fd'):
        try:
            target = os.readlink(f'/proc/{pid}/fd/{fd}')
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(target[8:-1])
    found = set()
    for table, width in (('tcp', 4), ('tcp6', 16)):
        with open(f'/proc/{pid}/net/{table}') as f:
            next(f)
            for line in f:
                cols = line.split()
                local, state, inode = cols[1], cols[3], cols[9]
                if state == '0A' and inode in inodes:  # 0A: LISTEN
                    found.add(_decode_address(local, width))
    return found


def _decode_address(text: str, width: int) -> str:
    host, port = text.split(':')
    raw = bytes.fromhex(host)
    # /proc prints each 32-bit word in host (little-endian) order.
    raw = b''.join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if width == 4 else socket.AF_INET6
    return f'{socket.inet_ntop(family, raw)}:{int(port, 16)}'


def _bind_grpc_to_loopback() -> None:
    """Every gRPC server this process opens listens on 127.0.0.1, whatever host it asks for."""
    import grpc
    make_server = grpc.server

    def server(*args, **kwargs):
        made = make_server(*args, **kwargs)
        add_port = made.add_insecure_port
        made.add_insecure_port = lambda address: add_port(
            f'{LOOPBACK}:{address.rsplit(":", 1)[1]}')
        return made

    grpc.server = server


def main(argv: Optional[List[str]] = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    which, rest = argv[0], argv[1:]
    _bind_grpc_to_loopback()
    import logging
    logging.basicConfig(level=logging.INFO)
    # SIGTERM runs atexit handlers (the worker pool's ends its workers) and finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if which == 'job-service':
        from apache_beam.runners.portability import local_job_service_main
        local_job_service_main.run(rest)
    elif which == 'worker-pool':
        from apache_beam.runners.worker import worker_pool_main
        worker_pool_main.main(rest)
    else:
        sys.exit(f'unknown service {which!r}; use job-service or worker-pool')


if __name__ == '__main__':
    main()
