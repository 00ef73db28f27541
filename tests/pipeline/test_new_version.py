"""New registry versions: numbered when published, never over anything, and what killed
writers left removed by the next writer."""

import json
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import uuid

import pytest

from pipeline import new_version, registry
from pipeline.runtime import publish
from pipeline.runtime.guard import check_output
from tests.support import gcs_emulator
from tests.support.model_versions import write_export, write_version
from tests.support.object_publish_driver import drive, names, stage_export, version_content
from tests.support.paths import ROOT
from transforms.errors import OutputError


def _write(root: str, barrier, results) -> None:
    """One writer: stages a version, waits for the others, publishes."""
    try:
        with new_version.stage_version(root) as out:
            manifest = publish.read_manifest(write_export(out.path))
            barrier.wait(30)
            out.write_manifest(dict(manifest, writer=os.getpid()))
            results.put((os.getpid(), new_version.publish_version(root, out)))
    except BaseException as e:  # noqa: B902 - reported to the test, whatever it is
        results.put((os.getpid(), f'{type(e).__name__}: {e}'))


def test_writers_at_once_always_get_distinct_versions_and_all_survive(tmp_path):
    """Case 6: the number is taken when publishing, create-if-absent; many rounds of eight
    writers publishing at the same instant."""
    root = str(tmp_path / 'models')
    ctx = multiprocessing.get_context('fork')
    n, rounds, published = 8, 10, {}
    barrier, results = ctx.Barrier(n), ctx.Queue()
    for _ in range(rounds):
        procs = [ctx.Process(target=_write, args=(root, barrier, results)) for _ in range(n)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        outcomes = dict(results.get(timeout=10) for _ in range(n))
        assert all(str(path).startswith(root + os.sep) for path in outcomes.values()), outcomes
        assert not set(outcomes.values()) & set(published.values())
        published.update(outcomes)
    assert len(set(published.values())) == n * rounds
    assert registry.versions(root) == list(range(1, n * rounds + 1))
    for pid, path in published.items():  # each version holds what its writer wrote
        assert publish.read_manifest(path)['writer'] == pid
    assert sorted(os.listdir(root)) == sorted(str(v) for v in range(1, n * rounds + 1))


def test_a_publish_never_replaces_a_folder_of_that_number(tmp_path, monkeypatch):
    """Even an empty folder, or one another writer made between the listing and the rename,
    is skipped for the next number; where renameat2 cannot, a mkdir reserves the number."""
    root = str(tmp_path)
    write_version(root, 1)
    os.mkdir(os.path.join(root, '2'))   # a number someone else holds
    for expected in ('3', '4'):
        with new_version.stage_version(root) as out:
            out.write_manifest({'job': 'train', 'status': 'ok'})
            assert new_version.publish_version(root, out) == os.path.join(root, expected)
        monkeypatch.setattr(publish, '_renameat2', lambda a, b, flags: None)
    monkeypatch.setattr(os, 'listdir', lambda path: ['1'])  # as if 2 to 4 came just after
    with new_version.stage_version(root) as out:
        out.write_manifest({'job': 'train', 'status': 'ok'})
        assert new_version.publish_version(root, out) == os.path.join(root, '5')
    monkeypatch.undo()
    assert os.listdir(os.path.join(root, '2')) == []
    assert all(publish.read_manifest(os.path.join(root, n)) for n in '345')


_KILLED_WRITER = r'''
import os, signal, sys
sys.path.insert(0, sys.argv[1])
from pipeline import new_version
out = new_version.stage_version(sys.argv[2]).__enter__()
open(os.path.join(out.path, 'half-written'), 'w').write('x')
print(out.path, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
'''


def test_the_next_writer_removes_what_a_killed_writer_left(tmp_path):
    """Case 11: kill -9 leaves new-<id>.partial-<id> and new-<id>.lock (and an older
    version left N.partial-* and N.lock); the next writer removes them, a live writer's are
    kept, and `versions` never counts them."""
    root = str(tmp_path / 'models')
    write_version(root, 1)
    proc = subprocess.run([sys.executable, '-c', _KILLED_WRITER, ROOT, root],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    staged = proc.stdout.strip()
    assert os.path.isdir(staged) and os.path.isfile(staged.rsplit('.partial-', 1)[0] + '.lock')
    os.makedirs(os.path.join(root, '2.partial-0123abcd'))        # the old naming's debris
    with open(os.path.join(root, '2.lock'), 'w') as f:
        json.dump({'pid': _dead_pid(), 'host': socket.gethostname()}, f)
    with open(os.path.join(root, '3.lock'), 'w') as f:          # another machine's writer
        json.dump({'pid': 1, 'host': 'elsewhere'}, f)
    assert registry.versions(root) == [1]
    with new_version.stage_version(root) as live:
        assert new_version.remove_debris(root) == []           # the live writer's: kept
        assert sorted(os.listdir(root)) == sorted(
            ['1', '3.lock', os.path.basename(live.path),
             os.path.basename(live.final_path) + '.lock'])
        live.write_manifest({'job': 'train', 'status': 'ok'})
        assert new_version.publish_version(root, live) == os.path.join(root, '2')
    assert sorted(os.listdir(root)) == ['1', '2', '3.lock']


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    child.wait()
    return child.pid


def test_no_job_writes_into_a_version(tmp_path):
    """Case 5: a version folder, or a folder inside one, is refused as any job's --output;
    a registry's new version goes through --registry."""
    root = tmp_path / 'models'
    write_version(root, 1)
    for output, where in ((root / '1', 'is version 1'), (root / '1' / 'score', 'lies inside'),
                          (root / '7', 'is version 7')):
        with pytest.raises(OutputError, match=f'{where}.* never written again; train a new one '
                                              f'with --output {root} --registry'):
            check_output(str(output), 'train')
    check_output(str(tmp_path / 'elsewhere' / '1'), 'score')   # not a registry: allowed


# --- On an object store (gs://), against fake-gcs-server on 127.0.0.1 -----------------------

GS_BUCKET = 'versions-test'


@pytest.fixture(scope='module')
def store(tmp_path_factory):
    with gcs_emulator.running_with_bucket(tmp_path_factory, GS_BUCKET) as emulator:
        yield emulator


def _gs_registry() -> str:
    return f'gs://{GS_BUCKET}/r-{uuid.uuid4().hex[:8]}'


def _published(root: str) -> dict:
    """Each published version and what it holds whole (None: not whole)."""
    return {n: version_content(registry.version_path(root, n)) for n in registry.versions(root)}


def _only_versions_and_claims(store, root: str) -> list:
    """What the registry holds besides its versions' files and their claims."""
    return [n for n in names(store, root + '/')
            if not re.fullmatch(r'[1-9][0-9]*(/.+|\.claim)', n)]


@pytest.mark.e2e
def test_on_gs_a_writer_killed_at_each_step_leaves_whole_versions_and_the_next_writer_finishes(
        store):
    """SIGKILL before and after each step of publishing version 2: a reader only ever sees
    whole versions; the next writer publishes the killed one's version if it had claimed its
    number (else that number goes to the next writer), and leaves no staging, lock or half
    version behind."""
    probe = _gs_registry()
    drive(probe, 'v1', registry=True)
    steps = drive(probe, 'v2', registry=True)
    claim = [i for i, s in enumerate(steps) if s == f'create_new {probe}/2.claim']
    assert len(claim) == 1 and _published(probe) == {1: 'v1', 2: 'v2'}, steps
    for kill_at in range(len(steps)):
        for when in ('before', 'after'):
            root = _gs_registry()
            drive(root, 'v1', registry=True)
            assert drive(root, 'v2', kill_at, when, registry=True) == -signal.SIGKILL
            claimed = kill_at > claim[0] or (kill_at == claim[0] and when == 'after')
            assert None not in _published(root).values(), (kill_at, when)
            drive(root, 'v3', registry=True)
            assert _published(root) == ({1: 'v1', 2: 'v2', 3: 'v3'} if claimed else
                                        {1: 'v1', 2: 'v3'}), (kill_at, when, steps[kill_at])
            assert _only_versions_and_claims(store, root) == [], (kill_at, when)


def _write_gs(root: str, name: str, barrier, results) -> None:
    """One writer on gs://: stages a version, waits for the others, publishes."""
    try:
        with new_version.stage_version(root) as out:
            stage_export(out, name)
            barrier.wait(60)
            results.put((name, new_version.publish_version(root, out)))
    except BaseException as e:  # noqa: B902 - reported to the test, whatever it is
        results.put((name, f'{type(e).__name__}: {e}'))


@pytest.mark.e2e
def test_on_gs_writers_at_once_get_distinct_versions_and_all_survive(store):
    """Rounds of four writers publishing at the same instant into one registry: each gets a
    number of its own (create-if-absent claims), and every version holds its writer's export."""
    root = _gs_registry()
    ctx = multiprocessing.get_context('fork')
    n, rounds, published = 4, 3, {}
    for r in range(rounds):
        barrier, results = ctx.Barrier(n), ctx.Queue()
        writers = [ctx.Process(target=_write_gs, args=(root, f'r{r}w{i}', barrier, results))
                   for i in range(n)]
        for w in writers:
            w.start()
        got = dict(results.get(timeout=120) for _ in writers)
        for w in writers:
            w.join(60)
        assert all(p.startswith(root + '/') for p in got.values()), got
        published.update({int(p.rsplit('/', 1)[1]): name for name, p in got.items()})
    assert sorted(published) == list(range(1, n * rounds + 1))
    assert _published(root) == published
    assert _only_versions_and_claims(store, root) == []
