"""A real GCS API on 127.0.0.1 for the tests: fake-gcs-server, built from the Go module proxy.

``ensure_binary()`` builds fake-gcs-server once (``go install``, about 3 minutes) into the
cache folder beside the local clusters' downloads; ``Emulator`` starts it on a free port with
an in-memory store and stops it by its pid; ``emulator_env`` is what a process needs to reach
it through Beam's GCS file system: ``STORAGE_EMULATOR_HOST`` and the shim in
``tests/support/gcs_shim`` (anonymous credentials, Content-IDs on batch parts), on
``PYTHONPATH`` so that the ``imdb-sentiment`` processes a test starts load it too. With
``log_requests`` the emulator logs every request it answers; ``Emulator.requests`` reads them
back (the object-store requests benchmark counts them).

Without Go the tests skip, unless ``IMDB_SENTIMENT_REQUIRE_GCS=1`` (CI), where they fail.
"""

import contextlib
import ctypes
import ctypes.util
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

import pytest

from pipeline.jobs.archive import default_cache_dir

VERSION = '1.56.1'
MODULE = 'github.com/fsouza/fake-gcs-server'
REQUIRE_ENV = 'IMDB_SENTIMENT_REQUIRE_GCS'
SHIM_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'gcs_shim')
_GO_FALLBACK = '/usr/local/go/bin/go'
_BUILD_TIMEOUT_S = 900
_PR_SET_PDEATHSIG = 1
# 127.0.0.1 is asked directly, whatever proxy the environment names.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# How the emulator logs a request at level info: an access-log line inside the message, its
# quotes escaped: msg="127.0.0.1 - - [DATE] \"GET /storage/v1/b/x/o HTTP/1.1\" 200 137\n".
_REQUEST_LINE = re.compile(r'\\"([A-Z]+) (\S+) HTTP/[\d.]+\\" (\d{3}) (\d+|-)')


class Unavailable(RuntimeError):
    """The emulator cannot be had here (no Go, or the build failed)."""


def required() -> bool:
    return os.environ.get(REQUIRE_ENV) == '1'


def binary_path(cache_dir: Optional[str] = None) -> str:
    return os.path.join(cache_dir or default_cache_dir(), f'fake-gcs-server-{VERSION}',
                        'fake-gcs-server')


def _go() -> Optional[str]:
    found = shutil.which('go')
    if found:
        return found
    return _GO_FALLBACK if os.access(_GO_FALLBACK, os.X_OK) else None


def ensure_binary(cache_dir: Optional[str] = None) -> str:
    """The emulator's binary, built once into the cache; raises Unavailable without Go."""
    target = binary_path(cache_dir)
    if os.access(target, os.X_OK):
        return target
    go = _go()
    if go is None:
        raise Unavailable(f'Go is not installed (Go >= 1.26 builds fake-gcs-server {VERSION} '
                          f'once, from the Go module proxy)')
    folder = os.path.dirname(target)
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    # Built into a folder of its own and renamed: a build cut short never looks finished.
    building = tempfile.mkdtemp(prefix=os.path.basename(folder) + '.partial-',
                                dir=os.path.dirname(folder))
    try:
        done = subprocess.run([go, 'install', f'{MODULE}@v{VERSION}'],
                              env=dict(os.environ, GOBIN=building, GOFLAGS='-mod=mod'),
                              capture_output=True, text=True, timeout=_BUILD_TIMEOUT_S)
        if done.returncode != 0:
            raise Unavailable(f'go install {MODULE}@v{VERSION} failed: '
                              f'{done.stderr.strip()[-2000:]}')
        try:
            os.rename(building, folder)
        except OSError:
            if not os.access(target, os.X_OK):  # another process finished first: keep its
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def _die_with_parent() -> None:
    """In the child, before exec: the kernel ends it when the test process dies, however it
    dies (PR_SET_PDEATHSIG), so a killed test run leaves no emulator behind."""
    libc = ctypes.CDLL(ctypes.util.find_library('c') or None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Emulator:
    """fake-gcs-server on 127.0.0.1, in memory; a context manager that stops it by pid."""

    def __init__(self, binary: str, log_dir: str, log_requests: bool = False):
        self.binary, self.log_dir = binary, log_dir
        # At level info the emulator logs every request it answers, one line each.
        self.log_level = 'info' if log_requests else 'warn'
        self.log_path = os.path.join(log_dir, 'fake-gcs-server.log')
        self.port = _free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.process: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 30.0) -> 'Emulator':
        host = f'127.0.0.1:{self.port}'
        log = open(self.log_path, 'ab')
        with log:
            self.process = subprocess.Popen(
                [self.binary, '-scheme', 'http', '-host', '127.0.0.1', '-port', str(self.port),
                 '-backend', 'memory', '-public-host', host, '-external-url', self.url,
                 '-log-level', self.log_level], stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Unavailable(f'fake-gcs-server exited {self.process.returncode}; see '
                                  f'{self.log_dir}/fake-gcs-server.log')
            try:
                self._request('GET', '/storage/v1/b')
                return self
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        self.stop()
        raise Unavailable(f'fake-gcs-server did not answer on {self.url} in {timeout:.0f} s')

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> 'Emulator':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _request(self, method: str, path: str, body: Optional[Dict] = None) -> Dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={'Content-Type': 'application/json'})
        with _DIRECT.open(request, timeout=5) as response:
            text = response.read().decode('utf-8')
        return json.loads(text) if text else {}

    def create_bucket(self, name: str) -> str:
        """Creates the bucket; returns ``gs://NAME``."""
        self._request('POST', '/storage/v1/b?project=test', {'name': name})
        return f'gs://{name}'

    def upload(self, bucket: str, name: str, data: bytes) -> str:
        """Puts ``data`` in object ``name`` through the emulator's own API; returns its gs://."""
        query = urllib.parse.urlencode({'uploadType': 'media', 'name': name})
        request = urllib.request.Request(f'{self.url}/upload/storage/v1/b/{bucket}/o?{query}',
                                         data=data, method='POST')
        with _DIRECT.open(request, timeout=60) as response:
            response.read()
        return f'gs://{bucket}/{name}'

    def read(self, bucket: str, name: str) -> bytes:
        """The bytes of object ``name``, read through the emulator's own API."""
        quoted = urllib.parse.quote(name, safe='')
        url = f'{self.url}/download/storage/v1/b/{bucket}/o/{quoted}?alt=media'
        with _DIRECT.open(url, timeout=60) as response:
            return response.read()

    def log_size(self) -> int:
        """Where the next line of the emulator's log will start (an offset for ``requests``)."""
        return os.path.getsize(self.log_path)

    def requests(self, start: int = 0,
                 end: Optional[int] = None) -> List[Tuple[str, str, int, int]]:
        """(method, target, status, bytes of the answer's body) of each request the emulator
        logged between the offsets ``start`` and ``end`` of its log (started with
        ``log_requests``). A part of a batch is logged on its own, its target a whole URL;
        the batch as ``POST /batch/...``."""
        with open(self.log_path, 'rb') as f:
            f.seek(start)
            text = f.read(-1 if end is None else end - start).decode('utf-8', 'replace')
        return [(m.group(1), m.group(2), int(m.group(3)), int(m.group(4).replace('-', '0')))
                for m in map(_REQUEST_LINE.search, text.splitlines()) if m]

    def objects(self, bucket: str, prefix: str = '') -> List[str]:
        """Every object name in ``bucket`` under ``prefix``, read from the emulator itself."""
        names, token = [], ''
        while True:
            query = urllib.parse.urlencode({'prefix': prefix, 'pageToken': token})
            found = self._request('GET', f'/storage/v1/b/{bucket}/o?{query}')
            names += [item['name'] for item in found.get('items', [])]
            token = found.get('nextPageToken')
            if not token:
                return sorted(names)


def emulator_env(emulator: Emulator, base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """What a process whose environment is ``base`` (default: this one's) needs to use the
    emulator as gs://: see the module doc."""
    base = os.environ if base is None else base
    path = [SHIM_DIR] + [p for p in base.get('PYTHONPATH', '').split(os.pathsep) if p]
    direct = ','.join(['127.0.0.1'] + [h for h in [base.get('NO_PROXY', '')] if h])
    return {'STORAGE_EMULATOR_HOST': emulator.url, 'GOOGLE_CLOUD_PROJECT': 'imdb-sentiment-test',
            'PYTHONPATH': os.pathsep.join(path), 'NO_PROXY': direct, 'no_proxy': direct}


def binary_or_skip() -> str:
    """The emulator's binary, for a test: skips the test without Go, or fails it where the
    emulator is required."""
    try:
        return ensure_binary()
    except Unavailable as e:
        if required():
            pytest.fail(f'GCS emulator tests are required here ({REQUIRE_ENV}=1): {e}')
        pytest.skip(str(e))


@contextlib.contextmanager
def running(log_dir: str, log_requests: bool = False) -> Iterator[Emulator]:
    """The emulator, started, with this process and the processes it starts set up to use it
    (environment and shim); all undone, and the emulator stopped by pid, on the way out.
    Skips the test without Go, or fails it where the emulator is required.
    ``log_requests``: as ``Emulator``'s."""
    emulator = Emulator(binary_or_skip(), log_dir, log_requests)
    shim = _shim()
    try:
        emulator.start()
        with pytest.MonkeyPatch.context() as patch:
            for name, value in emulator_env(emulator).items():
                patch.setenv(name, value)
            shim.install()
            try:
                yield emulator
            finally:
                shim.uninstall()
    finally:
        emulator.stop()


def _shim():
    spec = importlib.util.spec_from_file_location(
        'imdb_sentiment_gcs_shim', os.path.join(SHIM_DIR, 'sitecustomize.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def running_with_bucket(tmp_path_factory, bucket: str,
                        log_requests: bool = False) -> Iterator[Emulator]:
    """``running``, for a test module's fixture, with ``bucket`` made in the emulator."""
    with running(str(tmp_path_factory.mktemp('gcs')), log_requests) as emulator:
        emulator.create_bucket(bucket)
        yield emulator
