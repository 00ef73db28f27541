"""Publishing on an object store keeps the disk's promise, against fake-gcs-server on
127.0.0.1 (tests/support/gcs_emulator.py): a SIGKILL at each step of a publish and of the
rerun that recovers it, a stray object, a failed run, and the lock (exit 75, a dead run's
lock taken over, a lost lease never publishing)."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from pipeline.runtime import lease, object_store
from pipeline.runtime.guard import OutputLock
from pipeline.runtime.publish import StagedOutput
from tests.support import gcs_emulator
from tests.support.datasets import review_rows, write_csv
from tests.support.object_publish_driver import (FILES, drive, holds_or_recovers, names,
                                                 version_of)
from tests.support.paths import ROOT
from transforms.errors import OutputLocked

pytestmark = pytest.mark.e2e
BUCKET = 'publish-test'
WHOLE = sorted('/' + name for name in FILES)


@pytest.fixture(scope='module')
def store(tmp_path_factory):
    with gcs_emulator.running_with_bucket(tmp_path_factory, BUCKET) as emulator:
        yield emulator


def _root() -> str:
    return f'gs://{BUCKET}/t-{uuid.uuid4().hex[:8]}'


def test_a_kill_at_each_step_of_a_publish_leaves_the_old_or_the_new_output_whole(store):
    """SIGKILL before and after each step of publishing v2 over v1: the output is whole
    (or restorable from a whole staged copy) at every step; the next run restores v1 if the
    kill came before the commit object was made and v2 if after; a run then publishes v3 and
    leaves nothing beside."""
    probe = _root() + '/out'
    drive(probe, 'v1')
    steps = drive(probe, 'v2')
    commit = [i for i, s in enumerate(steps) if s == f'create_new {probe}.commit']
    assert len(commit) == 1 and len(steps) >= 12, steps
    for kill_at in range(len(steps)):
        for when in ('before', 'after'):
            root = _root()
            final = root + '/out'
            drive(final, 'v1')
            assert drive(final, 'v2', kill_at, when) == -signal.SIGKILL, (kill_at, when)
            committed = kill_at > commit[0] or (kill_at == commit[0] and when == 'after')
            holds_or_recovers(store, final, {'v1', 'v2'} if committed else {'v1'})
            drive(final, None)  # recovers only
            assert version_of(store, final) == ('v2' if committed else 'v1'), (kill_at, when)
            assert names(store, final) == WHOLE, (kill_at, when)
            drive(final, 'v3')
            assert version_of(store, final) == 'v3', (kill_at, when, names(store, root))
            assert names(store, final) == WHOLE, (kill_at, when)  # no lock, commit, staging


def test_the_run_that_finishes_a_cut_short_publish_can_itself_be_killed_at_each_step(store):
    """Killed just after the old manifest went (mid-publish), then the next run killed at
    each of its steps in turn: v1 never comes back, v2 or v3 is whole or restorable."""
    final = _root() + '/out'
    drive(final, 'v1')
    steps = drive(final, 'v2')
    after_commit = steps.index(f'create_new {final}.commit') + 1
    assert steps[after_commit] == f'delete {final}/manifest.json'
    assert drive(final, 'v2', after_commit, 'after') == -signal.SIGKILL
    assert '/manifest.json' not in names(store, final + '/')
    rerun = 0
    while drive(final, 'v3', rerun, 'before') == -signal.SIGKILL:
        holds_or_recovers(store, final, {'v2', 'v3'})
        rerun += 1
    assert rerun >= 12
    assert version_of(store, final) == 'v3'
    assert names(store, final) == WHOLE


def test_a_rerun_over_an_output_holding_a_stray_object_removes_it(store):
    final = _root() + '/out'
    drive(final, 'v1')
    object_store.create_new(f'{final}/sub/stray.txt', b'left by hand')
    drive(final, 'v2')
    assert version_of(store, final) == 'v2' and names(store, final) == WHOLE


def test_a_failed_run_is_kept_beside_and_never_replaces_the_output(store):
    root = _root()
    final = root + '/out'
    drive(final, 'v1')
    drive(final, 'v2', fail=True)
    assert version_of(store, final) == 'v1'
    failed = sorted({n.split('/')[1] for n in names(store, root) if '.failed-' in n})
    assert len(failed) == 1 and failed[0].startswith('out.failed-'), names(store, root)
    kept = json.loads(object_store.read_versioned(f'{root}/{failed[0]}/manifest.json')[0])
    assert kept['status'] == 'failed' and kept['created'] == 'v2'
    assert [n for n in names(store, root) if not n.startswith(('/out/', '/out.failed-'))] == []


def test_a_failed_run_killed_at_each_step_is_kept_whole_once_or_not_at_all(store):
    """SIGKILL before and after each step of a failed run (v2) over v1, then a run that only
    recovers: v1 stays; the failed output is kept beside once, whole (its manifest and files),
    or not at all when the kill came before its manifest; nothing else is left."""
    probe = _root() + '/out'
    drive(probe, 'v1')
    steps = drive(probe, 'v2', fail=True)
    manifest = [i for i, s in enumerate(steps) if s.startswith('write_json ') and
                s.endswith('/manifest.json')]
    assert len(manifest) == 1, steps
    for kill_at in range(len(steps)):
        for when in ('before', 'after'):
            root = _root()
            final = root + '/out'
            drive(final, 'v1')
            assert drive(final, 'v2', kill_at, when, fail=True) == -signal.SIGKILL
            drive(final, None)  # recovers only
            assert version_of(store, final) == 'v1', (kill_at, when)
            beside = sorted({n.split('/')[1] for n in names(store, root)} - {'out'})
            written = kill_at > manifest[0] or (kill_at == manifest[0] and when == 'after')
            assert len(beside) == (1 if written else 0), (kill_at, when, steps[kill_at], beside)
            for name in beside:
                assert name.startswith('out.failed-'), beside
                kept = f'{root}/{name}'
                assert sorted(names(store, kept + '/')) == sorted(FILES), (kill_at, when)
                assert json.loads(object_store.read_versioned(f'{kept}/manifest.json')[0])[
                    'status'] == 'failed'


# --- The lock --------------------------------------------------------------------------

def test_a_second_run_on_a_gs_output_exits_75_while_the_first_holds_it(store, tmp_path):
    final = _root() + '/explore'
    data = write_csv(str(tmp_path / 'in.csv'), review_rows(4))
    with OutputLock(final):
        done = subprocess.run([sys.executable, '-m', 'pipeline.cli', 'explore', '--input', data,
                               '--output', final], cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
        holder = json.loads(object_store.read_versioned(final + '.lock')[0])
    assert done.returncode == 75, done.stderr[-3000:]
    assert f'pid {os.getpid()}' in done.stderr and 'Traceback' not in done.stderr
    assert holder['pid'] == os.getpid() and holder['expires'] > time.time()
    assert names(store, final) == []  # nothing staged, and the lock given back


def _hold_in_child(final: str):
    """A forked process that holds the lock of ``final`` until killed: its pid."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            OutputLock(final).acquire()
            os.write(write, b'held')
            time.sleep(600)
        finally:
            os._exit(1)
    os.close(write)
    with os.fdopen(read, 'rb') as f:
        assert f.read(4) == b'held'
    return pid


def test_the_lock_of_a_killed_run_is_taken_over_at_once_on_its_machine(store):
    final = _root() + '/out'
    pid = _hold_in_child(final)
    try:
        with pytest.raises(OutputLocked, match=f'pid {pid} on '):
            OutputLock(final).acquire()
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert names(store, final) == ['.lock']  # left by the killed holder
    with OutputLock(final):
        assert json.loads(object_store.read_versioned(final + '.lock')[0])['pid'] == os.getpid()
    assert names(store, final) == []


def _foreign_lock(final: str, expires: float) -> None:
    """The lock of a run on another machine, whose lease ends at ``expires``."""
    record = {'pid': 1, 'host': 'elsewhere', 'started': '2026-01-01T00:00:00+00:00',
              'machine': 'another-boot/pid:[1]', 'pid_started': '1', 'expires': expires,
              'token': uuid.uuid4().hex}
    assert object_store.create_new(final + '.lock', json.dumps(record).encode())


def test_a_lock_from_another_machine_is_taken_over_only_when_its_lease_has_ended(store):
    final = _root() + '/out'
    _foreign_lock(final, time.time() + 60)
    with pytest.raises(OutputLocked, match='pid 1 on elsewhere .*taken over'):
        OutputLock(final).acquire()
    object_store.delete(final + '.lock')
    _foreign_lock(final, time.time() - 1)
    with OutputLock(final):
        assert json.loads(object_store.read_versioned(final + '.lock')[0])['pid'] == os.getpid()
    assert names(store, final) == []


def _take_over(path: str, record: bytes) -> None:
    """Replaces the lock ``path`` as a run that took it over would (by compare-and-swap, on
    whichever generation the holder's renewals left)."""
    while True:
        _, generation = object_store.read_versioned(path)
        if object_store.replace_if(path, record, generation):
            return


def test_a_held_lock_is_renewed_and_a_lock_taken_over_is_not_given_back(store, monkeypatch,
                                                                         caplog):
    monkeypatch.setattr(lease, 'LEASE_S', 0.4)  # renewed every 0.1 s
    path = _root() + '/out.lock'
    held = lease.Lease(path)
    assert held.acquire() is None
    first = object_store.read_versioned(path)
    time.sleep(0.5)
    later = object_store.read_versioned(path)
    assert later[1] != first[1]
    assert json.loads(later[0])['expires'] > json.loads(first[0])['expires']
    _take_over(path, b'{"token": "theirs"}')
    deadline = time.monotonic() + 10
    while 'was taken over by another run' not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    assert 'was taken over by another run' in caplog.text  # the renewal saw it
    assert not held.held()
    held.release()
    assert object_store.read_versioned(path)[0] == b'{"token": "theirs"}'


def test_a_run_whose_lock_was_taken_over_does_not_publish(store):
    final = _root() + '/out'
    drive(final, 'v1')
    with pytest.raises(OutputLocked, match='another run took the lock over'):
        with StagedOutput(final) as out:
            for name in FILES:
                object_store.create_new(f'{out.path}/{name}', b'v2')
            # Another run takes the lock over, as one would once this run stalled too long.
            _take_over(final + '.lock', b'{"token": "theirs"}')
            out.publish()
    assert version_of(store, final) == 'v1'
    assert object_store.read_versioned(final + '.lock')[0] == b'{"token": "theirs"}'


def test_a_run_killed_after_its_commit_does_not_make_its_output_refused(store):
    """Killed after the old manifest went: the output holds objects and no manifest; the
    same job may still write there (its next run finishes the publish), another may not."""
    from pipeline.runtime import guard
    from transforms.errors import OutputError
    final = _root() + '/out'
    drive(final, 'v1')
    steps = drive(final, 'v2')
    manifest_gone = steps.index(f'delete {final}/manifest.json')
    assert drive(final, 'v2', manifest_gone, 'after') == -signal.SIGKILL
    assert '/manifest.json' not in names(store, final + '/') and names(store, final + '/')
    guard.check_output(final, 'test')
    with pytest.raises(OutputError, match='holds files that are not an earlier'):
        guard.check_output(final, 'explore')
