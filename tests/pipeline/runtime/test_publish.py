"""Publishing an output: staged writing, the swap into place, and the lock that keeps two
runs of one output apart."""

import json
import os
import signal
import subprocess
import sys

import pytest

from pipeline.runtime.guard import OutputLock
from pipeline.runtime.publish import StagedOutput
from tests.support.datasets import write_csv
from transforms.errors import OutputLocked
from tests.support.paths import ROOT
from tests.support.processes import start
from tests.support.publish_driver import drive, version_of



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
        proc = start(['explore', '--input', data, '--output', out])
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

def test_recovery_restores_before_it_removes(tmp_path):
    """The state the issue found: killed between the two renames, the old output at .old and
    the new one complete at .partial, no output. The next run puts the new one back first."""
    final = str(tmp_path / 'out')
    drive(final, 'v1', exchange='no')
    assert drive(final, 'v2', 6, 'before', exchange='no') == -signal.SIGKILL
    names = sorted(os.listdir(tmp_path))
    assert 'out' not in names and any('.old-' in n for n in names) and any(
        '.partial-' in n for n in names), names
    from pipeline.runtime import publish
    with OutputLock(final):
        assert '.partial-' in publish.recover(final)
    assert version_of(final) == 'v2' and os.listdir(tmp_path) == ['out']


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
    assert version_of(str(final)) == 'v2'
    assert os.listdir(tmp_path) == [final.name]
