"""Publishing driven step by step: a fresh process publishes a small output and kills itself
(SIGKILL) before or after its K-th filesystem step; and what a folder holds after it.

Shared by the publish tests and the crash-consistency suite.
"""

import glob
import json
import os
import subprocess
import sys

from tests.support.paths import ROOT

# Runs in a fresh process: publishes version V of OUT (or only recovers, for 'recover'),
# with SIGKILL sent to itself before or after its K-th filesystem step (each write, rename,
# exchange and removal that publish.py takes). Prints how many steps it took.
_DRIVER = r'''
import json, os, signal, sys
sys.path.insert(0, sys.argv[1])
from pipeline.runtime import publish
final, version, kill_at, when, exchange = sys.argv[2], sys.argv[3], int(sys.argv[4]), \
    sys.argv[5], sys.argv[6]
steps = [0]


def counted(fn):
    def step(*args):
        i = steps[0]
        steps[0] += 1
        if i == kill_at and when == 'before':
            os.kill(os.getpid(), signal.SIGKILL)
        result = fn(*args)
        if i == kill_at and when == 'after':
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    return step


for name in ('_rename', '_write', '_rmtree'):
    setattr(publish, name, counted(getattr(publish, name)))
publish._exchange = counted(publish._exchange if exchange == 'yes' else lambda a, b: False)
with publish.StagedOutput(final) as out:
    for rel, size in (('a.txt', 1), (os.path.join('sub', 'b.txt'), 5000)):
        os.makedirs(os.path.dirname(os.path.join(out.path, rel)), exist_ok=True)
        publish._write(os.path.join(out.path, rel), (version * size).encode())
    out.write_manifest({'job': 'test', 'status': 'ok', 'created': version})
    out.publish()
print(json.dumps({'steps': steps[0]}))
'''


def drive(final: str, version: str, kill_at: int = -1, when: str = 'before',
          exchange: str = 'yes') -> int:
    """Publishes ``version`` to ``final`` in a child process; without ``kill_at``, returns the
    number of steps it took; with it, the child's return code."""
    proc = subprocess.run([sys.executable, '-c', _DRIVER, ROOT, str(final), version,
                           str(kill_at), when, exchange], capture_output=True, text=True,
                          timeout=60)
    if kill_at < 0:
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)['steps']
    return proc.returncode


def version_of(folder):
    """The version a folder holds whole, or None when anything is missing or mixed."""
    try:
        files = {os.path.relpath(os.path.join(d, n), folder)
                 for d, _, names in os.walk(folder) for n in names}
        a = open(os.path.join(folder, 'a.txt')).read()
        b = open(os.path.join(folder, 'sub', 'b.txt')).read()
        created = json.load(open(os.path.join(folder, 'manifest.json')))['created']
    except (OSError, ValueError):
        return None
    whole = files == {'a.txt', os.path.join('sub', 'b.txt'), 'manifest.json'}
    return a if whole and a == created and b == a * 5000 else None


def holds_or_recovers(final, allowed):
    """The output is whole (one of ``allowed``), or missing with a whole copy beside it that
    the next run puts back: the publishing contract at every instant."""
    if os.path.lexists(final):
        assert version_of(final) in allowed, (os.listdir(os.path.dirname(final)), allowed)
        return
    beside = [version_of(p) for p in glob.glob(f'{final}.*')]
    assert any(v in allowed for v in beside), (os.listdir(os.path.dirname(final)), beside)
