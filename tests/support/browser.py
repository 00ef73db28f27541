"""Headless Chromium for tests: open a local HTML file, dump its DOM, take a screenshot.

Uses Debian's ``chromium`` package (``apt-get install chromium``); tests that need
it call ``chromium_or_skip()`` and skip with a reason where it is not installed.
Every run gets a fresh profile folder, touches no network (file:// pages only,
background networking off, every host name unresolvable), and its whole process
group is killed before the call returns, so no browser process outlives a test.
"""

import dataclasses
import os
import shutil
import signal
import subprocess
import tempfile
from html.parser import HTMLParser
from typing import Dict, List, Optional, Sequence, Set, Tuple

import pytest

CANDIDATES = ('/usr/bin/chromium', 'chromium', 'chromium-browser')
FLAGS = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--host-resolver-rules=MAP * ~NOTFOUND')
TIMEOUT_S = 60


def find_chromium() -> Optional[str]:
    """The path of a Chromium binary, or None."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_or_skip() -> str:
    """The Chromium binary; skips the calling test when there is none."""
    path = find_chromium()
    if path is None:
        pytest.skip('headless Chromium not installed (Debian: apt-get install chromium)')
    return path


def _run(args: Sequence[str], html_path: str, timeout: float) -> str:
    """Runs Chromium on file://html_path with ``args``; returns its stdout."""
    binary = chromium_or_skip()
    url = 'file://' + os.path.abspath(html_path)
    with tempfile.TemporaryDirectory(prefix='chromium-profile-') as profile:
        # A session of its own, so the browser and its helper processes die together.
        proc = subprocess.Popen([binary, *FLAGS, f'--user-data-dir={profile}', *args, url],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.communicate()
            raise RuntimeError(f'chromium did not finish within {timeout} s on {url}')
        finally:
            _kill_group(proc.pid)
    if proc.returncode != 0:
        tail = err.decode('utf-8', 'replace')[-2000:]
        raise RuntimeError(f'chromium exited with {proc.returncode} on {url}:\n{tail}')
    return out.decode('utf-8', 'replace')


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # already gone


def dump_dom(html_path: str, timeout: float = TIMEOUT_S) -> str:
    """The page's DOM serialized after it loaded: what any script changed shows here."""
    return _run(['--dump-dom'], html_path, timeout)


def screenshot(html_path: str, png_path: str, width: int = 1200, height: int = 3000,
               timeout: float = TIMEOUT_S) -> str:
    """A PNG of the top width x height pixels of the page; returns png_path."""
    _run([f'--screenshot={os.path.abspath(png_path)}', f'--window-size={width},{height}'],
         html_path, timeout)
    if not os.path.getsize(png_path):
        raise RuntimeError(f'chromium wrote an empty screenshot for {html_path}')
    return png_path


@dataclasses.dataclass
class Dom:
    """What tests check in a dumped DOM: elements, not text that merely looks like them."""
    title: str = ''
    ids: Set[str] = dataclasses.field(default_factory=set)
    tags: Dict[str, int] = dataclasses.field(default_factory=dict)
    attributes: List[Tuple[str, str, str]] = dataclasses.field(default_factory=list)

    def has_attribute(self, name: str) -> bool:
        return any(a == name for _, a, _ in self.attributes)


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.dom = Dom()
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        self.dom.tags[tag] = self.dom.tags.get(tag, 0) + 1
        for name, value in attrs:
            self.dom.attributes.append((tag, name, value or ''))
            if name == 'id':
                self.dom.ids.add(value or '')
        self._in_title = tag == 'title'

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.dom.title += data


def parse_dom(html: str) -> Dom:
    """Elements, ids, attributes and title of a serialized DOM."""
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return parser.dom
