"""Publishing an output: staged writing, the swap into place, and the lock that keeps two
runs of one output apart."""

import os
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
