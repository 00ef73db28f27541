"""Publishing an output: staged writing, the swap into place, and the lock that keeps two
runs of one output apart."""

import glob
import json
import os
import signal
import subprocess
import sys

import pytest

from pipeline.runtime.guard import OutputLock
from pipeline.runtime.publish import StagedOutput
from tests.datasets import write_csv
from transforms.errors import OutputLocked

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _start(args):
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    return subprocess.Popen([sys.executable, '-m', 'pipeline.cli', *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_failed_run_leaves_nothing_and_keeps_the_previous_result(tmp_path):
    final = str(tmp_path / 'out')
    with StagedOutput(final) as out:
        open(os.path.join(out.path, 'a.txt'), 'w').write('first')
        out.publish()
    with pytest.raises(RuntimeError):
        with StagedOutput(final) as out:
            open(os.path.join(out.path, 'a.txt'), 'w').write('half')
            raise RuntimeError('interrupted')
    assert sorted(os.listdir(tmp_path)) == ['out']
    assert open(os.path.join(final, 'a.txt')).read() == 'first'
    with StagedOutput(final) as out:
        open(os.path.join(out.path, 'b.txt'), 'w').write('second')
        out.publish()
    assert os.listdir(final) == ['b.txt'] and sorted(os.listdir(tmp_path)) == ['out']


def test_a_live_lock_makes_a_second_run_fail_fast_with_75(tmp_path):
    data = write_csv(str(tmp_path / 'in.csv'), [('good film', 'positive')])
    out = str(tmp_path / 'explore')
    with OutputLock(out):
        proc = _start(['explore', '--input', data, '--output', out])
        _, err = proc.communicate(timeout=120)
    err = err.decode()
    assert proc.returncode == 75, err
    assert f'pid {os.getpid()}' in err and 'Traceback' not in err
    assert not os.path.exists(out)


def test_the_lock_of_a_killed_run_does_not_block_the_next(tmp_path):
    out = str(tmp_path / 'out')
    child = subprocess.Popen([sys.executable, '-c', (
        'import sys, time; sys.path.insert(0, %r)\n'
        'from pipeline.runtime.guard import OutputLock\n'
        'OutputLock(%r).acquire(); print("held", flush=True); time.sleep(600)') % (ROOT, out)],
        stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == b'held'
        with pytest.raises(OutputLocked):
            OutputLock(out).acquire()
    finally:
        child.kill()
        child.wait()
    assert os.path.exists(out + '.lock')  # left behind by the killed holder
    with OutputLock(out):
        pass
    assert not os.path.exists(out + '.lock')


# --- Crash consistency: a kill at each step of a publish, then an interrupted rerun ---------

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


def _drive(final, version, kill_at=-1, when='before', exchange='yes'):
    proc = subprocess.run([sys.executable, '-c', _DRIVER, ROOT, str(final), version,
                           str(kill_at), when, exchange], capture_output=True, text=True,
                          timeout=60)
    if kill_at < 0:
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)['steps']
    return proc.returncode


def _version(folder):
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


def _holds_or_recovers(final, allowed):
    """The output is whole (one of ``allowed``), or missing with a whole copy beside it that
    the next run puts back: the publishing contract at every instant."""
    if os.path.lexists(final):
        assert _version(final) in allowed, (os.listdir(os.path.dirname(final)), allowed)
        return
    beside = [_version(p) for p in glob.glob(f'{final}.*')]
    assert any(v in allowed for v in beside), (os.listdir(os.path.dirname(final)), beside)


def test_recovery_restores_before_it_removes(tmp_path):
    """The state the issue found: killed between the two renames, the old output at .old and
    the new one complete at .partial, no output. The next run puts the new one back first."""
    final = str(tmp_path / 'out')
    _drive(final, 'v1', exchange='no')
    assert _drive(final, 'v2', 6, 'before', exchange='no') == -signal.SIGKILL
    names = sorted(os.listdir(tmp_path))
    assert 'out' not in names and any('.old-' in n for n in names) and any(
        '.partial-' in n for n in names), names
    from pipeline.runtime import publish
    with OutputLock(final):
        assert '.partial-' in publish.recover(final)
    assert _version(final) == 'v2' and os.listdir(tmp_path) == ['out']


def test_a_rerun_stopped_after_a_kill_between_the_renames_keeps_a_night(tmp_path):
    """The issue's case with the API alone: a publish killed between its two renames left
    the complete old night at .old and the complete new one at .partial, and no output. The
    next run is stopped (SIGTERM) right after it opened the output: a whole copy survives."""
    final = tmp_path / 'dt=2026-11-24'
    for name, version in (('.old-0000000a', 'v1'), ('.partial-0000000b', 'v2')):
        folder = tmp_path / (final.name + name)
        (folder / 'sub').mkdir(parents=True)
        (folder / 'a.txt').write_text(version)
        (folder / 'sub' / 'b.txt').write_text(version * 5000)
        (folder / 'manifest.json').write_text(json.dumps({'status': 'ok', 'created': version}))
    with pytest.raises(KeyboardInterrupt):
        with StagedOutput(str(final)):
            raise KeyboardInterrupt  # what SIGTERM raises in the main thread
    assert _version(str(final)) == 'v2'
    assert os.listdir(tmp_path) == [final.name]
