"""Tests of pipeline.jobs.download against a real HTTP server on 127.0.0.1; nothing reaches the internet.

The server serves a tiny aclImdb archive built here, counts requests, records their
Range headers, and can be told to cut the connection after N bytes, to ignore Range
(answer 200), or to answer 404.
"""

import hashlib
import http.server
import io
import os
import random
import re
import socket
import tarfile
import threading
from typing import Dict, Iterator, List, Optional

import pytest

from pipeline.jobs import download
from pipeline.jobs.download import fetch_aclimdb
from transforms.errors import DownloadError

REVIEWS = {
    'aclImdb/train/pos/0_9.txt': b'A wonderful film.<br /><br />Loved it.',
    'aclImdb/train/neg/1_2.txt': b'Dull and far too long.',
    'aclImdb/test/pos/2_8.txt': b'Great acting throughout.',
    'aclImdb/test/neg/3_1.txt': b'The worst plot this year.',
    # Incompressible filler, so the archive spans several download chunks and a cut lands mid-file.
    'aclImdb/imdbEr.txt': random.Random(0).randbytes(300_000),
}


def make_archive(files: Dict[str, bytes]) -> bytes:
    """A .tar.gz holding ``files`` (name -> content)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w:gz') as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


ARCHIVE = make_archive(REVIEWS)


class _Server(http.server.ThreadingHTTPServer):
    payload: bytes = ARCHIVE
    ranges = True                 # honour Range with 206; False answers 200 with the whole file
    missing = False               # answer 404
    cut_after: Optional[int] = None   # send only this many body bytes once, then hang up
    range_headers: List[Optional[str]]  # one per request, in order
    url: str


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        srv = self.server
        asked = self.headers.get('Range')
        srv.range_headers.append(asked)
        if srv.missing or self.path != '/aclImdb_v1.tar.gz':
            self.send_error(404)
            return
        start = int(asked.split('=')[1].rstrip('-')) if asked and srv.ranges else 0
        if start >= len(srv.payload) > 0:
            self.send_error(416)
            return
        body = srv.payload[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header('Content-Range', f'bytes {start}-{len(srv.payload) - 1}/{len(srv.payload)}')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if srv.cut_after is not None:
            body, srv.cut_after = body[:srv.cut_after], None
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass  # keep test output clean


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(('127.0.0.1', 0), _Handler)
    srv.range_headers = []
    # A short poll interval, so shutdown() in teardown returns at once rather than in 0.5 s.
    thread = threading.Thread(target=srv.serve_forever, kwargs={'poll_interval': 0.01}, daemon=True)
    thread.start()
    srv.url = f'http://127.0.0.1:{srv.server_address[1]}/aclImdb_v1.tar.gz'
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


def fetch(server: _Server, cache, payload: bytes = ARCHIVE, **kwargs) -> str:
    """fetch_aclimdb against the test server, checked against ``payload``'s size and SHA-256."""
    kwargs.setdefault('size', len(payload))
    kwargs.setdefault('sha256', hashlib.sha256(payload).hexdigest())
    return fetch_aclimdb(str(cache), url=server.url, progress=False, **kwargs)


def assert_unpacked(path: str) -> None:
    for name, content in REVIEWS.items():
        with open(os.path.join(os.path.dirname(path), name), 'rb') as f:
            assert f.read() == content, name


def test_downloads_verifies_and_unpacks(server, tmp_path):
    path = fetch(server, tmp_path)
    assert path == str(tmp_path / 'aclImdb')
    assert_unpacked(path)
    assert (tmp_path / 'aclImdb_v1.tar.gz').read_bytes() == ARCHIVE
    # Only the archive and the unpacked folder remain: no .part, no temporary folder.
    assert sorted(os.listdir(tmp_path)) == ['aclImdb', 'aclImdb_v1.tar.gz']
    assert server.range_headers == [None]


def test_second_call_makes_no_request(server, tmp_path):
    first = fetch(server, tmp_path)
    os.remove(tmp_path / 'aclImdb_v1.tar.gz')  # the unpacked folder alone is enough
    second = fetch(server, tmp_path)
    assert first == second
    assert len(server.range_headers) == 1
    assert_unpacked(second)


def test_archive_already_in_the_cache_is_unpacked_without_network(server, tmp_path):
    (tmp_path / 'aclImdb_v1.tar.gz').write_bytes(ARCHIVE)  # as a user who downloaded it by hand
    (tmp_path / '.unpacking-crashed').mkdir()  # left by a killed extraction: never counts as done
    assert_unpacked(fetch(server, tmp_path))
    assert server.range_headers == []


def test_corrupt_archive_in_the_cache_is_downloaded_again(server, tmp_path):
    (tmp_path / 'aclImdb_v1.tar.gz').write_bytes(ARCHIVE[:-1] + b'x')
    assert_unpacked(fetch(server, tmp_path))
    assert server.range_headers == [None]


def test_interrupted_download_resumes_with_range(server, tmp_path, monkeypatch):
    monkeypatch.setattr(download, 'RESUMES', 0)  # let the first call fail, as after a crash
    server.cut_after = 100_000
    with pytest.raises(DownloadError, match=f'stopped after 100000 of {len(ARCHIVE)} bytes.*resume'):
        fetch(server, tmp_path)
    assert (tmp_path / 'aclImdb_v1.tar.gz.part').read_bytes() == ARCHIVE[:100_000]
    assert not (tmp_path / 'aclImdb').exists()
    assert_unpacked(fetch(server, tmp_path))
    assert server.range_headers == [None, 'bytes=100000-']
    assert (tmp_path / 'aclImdb_v1.tar.gz').read_bytes() == ARCHIVE


def test_one_call_resumes_a_dropped_connection_by_itself(server, tmp_path):
    server.cut_after = 70_000
    assert_unpacked(fetch(server, tmp_path))
    assert server.range_headers == [None, 'bytes=70000-']


def test_server_without_range_support_restarts_from_zero(server, tmp_path):
    stale = b'stale bytes from an older attempt'
    (tmp_path / 'aclImdb_v1.tar.gz.part').write_bytes(stale)
    server.ranges = False
    assert_unpacked(fetch(server, tmp_path))
    assert server.range_headers == [f'bytes={len(stale)}-']  # asked to resume, got 200, rewrote
    assert (tmp_path / 'aclImdb_v1.tar.gz').read_bytes() == ARCHIVE


def test_unresumable_part_file_is_discarded(server, tmp_path):
    # Longer than the file, with no size to tell: the server answers 416 to the resume.
    (tmp_path / 'aclImdb_v1.tar.gz.part').write_bytes(ARCHIVE + b'junk')
    assert_unpacked(fetch(server, tmp_path, size=None))
    assert server.range_headers == [f'bytes={len(ARCHIVE) + 4}-', None]


def test_checksum_mismatch_deletes_the_download(server, tmp_path):
    with pytest.raises(DownloadError, match='SHA-256 .* instead of 0{64}.*so it was deleted'):
        fetch(server, tmp_path, sha256='0' * 64)
    assert os.listdir(tmp_path) == []


def test_size_mismatch_is_refused_before_downloading(server, tmp_path):
    with pytest.raises(DownloadError, match=f'offers {len(ARCHIVE)} bytes'):
        fetch(server, tmp_path, size=len(ARCHIVE) + 1)
    assert os.listdir(tmp_path) == []


def test_http_404_is_a_download_error(server, tmp_path):
    server.missing = True
    with pytest.raises(DownloadError, match=r'answered HTTP 404 .*--url'):
        fetch(server, tmp_path)
    assert not (tmp_path / 'aclImdb').exists()


def test_refused_connection_says_check_the_network(tmp_path):
    with socket.socket() as s:  # a port that was just free, now closed: connecting is refused
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError) as caught:
        fetch_aclimdb(str(tmp_path), url=f'http://127.0.0.1:{port}/aclImdb_v1.tar.gz', progress=False)
    message = str(caught.value)
    assert '\n' not in message
    assert message.startswith('cannot reach 127.0.0.1 (') and 'check the network' in message
    assert '--input aclImdb/train' in message


def test_unusable_cache_folder_is_a_download_error(server, tmp_path):
    (tmp_path / 'file').write_text('not a folder')
    with pytest.raises(DownloadError, match='cannot create the cache folder .*--cache-dir'):
        fetch(server, tmp_path / 'file' / 'cache')
    assert server.range_headers == []


def test_archive_with_escaping_member_is_refused(server, tmp_path):
    cache = tmp_path / 'cache'
    server.payload = make_archive({**REVIEWS, '../evil': b'owned'})
    with pytest.raises(DownloadError, match="unsafe member '../evil'.*so it was deleted"):
        fetch(server, cache, payload=server.payload)
    assert not (tmp_path / 'evil').exists() and not (cache / 'evil').exists()
    assert os.listdir(cache) == []  # no aclImdb folder, no archive, no temporary folder


def test_progress_prints_plain_lines_when_not_a_terminal(server, tmp_path, capsys):
    fetch_aclimdb(str(tmp_path), url=server.url, size=len(ARCHIVE), sha256=None, progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert 1 <= len(lines) <= 5 and '\r' not in ''.join(lines)
    assert lines[-1].startswith('aclImdb_v1.tar.gz 100% ') and lines[-1].endswith(' MB/s')


def test_progress_redraws_in_place_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    bar = download._Progress('x.tar.gz', 2_000_000, 0, stream=stream)
    bar.update(1_000_000)
    bar.close()
    assert re.fullmatch(r'\rx\.tar\.gz  50% 1\.0/2\.0 MB [0-9.]+ MB/s\n', stream.getvalue())


def test_run_prints_the_folder_and_uses_the_env_cache(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(download.CACHE_ENV, str(tmp_path))
    assert download.default_cache_dir() == str(tmp_path)
    monkeypatch.setattr(download, 'SIZE', len(ARCHIVE))
    monkeypatch.setattr(download, 'SHA256', hashlib.sha256(ARCHIVE).hexdigest())
    assert download.run(['--url', server.url, '--no-progress']) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / 'aclImdb')
