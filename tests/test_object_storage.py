"""Outputs and inputs on object storage (gs://), against a real GCS API on 127.0.0.1.

fake-gcs-server (tests/support/gcs_emulator.py) serves one in-memory store for the module;
the jobs run as a user runs them, ``python -m pipeline.cli`` in their own processes, which
reach it through ``STORAGE_EMULATOR_HOST`` and the test-side shim. Without Go the module
skips, unless ``IMDB_SENTIMENT_REQUIRE_GCS=1`` (CI), where it fails.
"""

import json
import signal
import subprocess
import sys
import uuid

import pytest

from tests.support import gcs_emulator, processes
from tests.support.datasets import review_rows, write_csv
from tests.support.paths import ROOT

pytestmark = pytest.mark.e2e
BUCKET = 'imdb-test'


@pytest.fixture(scope='module')
def gcs(tmp_path_factory):
    """(the emulator, a bucket's gs:// root) for the module."""
    with gcs_emulator.running(str(tmp_path_factory.mktemp('gcs'))) as emulator:
        yield emulator, emulator.create_bucket(BUCKET)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'pipeline.cli', *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def _upload(local: str, target: str) -> str:
    from apache_beam.io.filesystems import FileSystems
    with open(local, 'rb') as source, FileSystems.create(target) as f:
        f.write(source.read())
    return target


def _read(path: str) -> bytes:
    from apache_beam.io.filesystems import FileSystems
    with FileSystems.open(path) as f:
        return f.read()


def test_files_are_written_listed_read_renamed_and_deleted_through_beam(gcs):
    from apache_beam.io.filesystems import FileSystems
    emulator, root = gcs
    folder = f'{root}/roundtrip-{uuid.uuid4().hex[:6]}'
    for i in range(3):
        with FileSystems.create(f'{folder}/part-{i}.txt') as f:
            f.write(f'row {i}\n'.encode())
    listed = sorted(m.path for m in FileSystems.match([folder + '/**'])[0].metadata_list)
    assert listed == [f'{folder}/part-{i}.txt' for i in range(3)]
    assert _read(f'{folder}/part-1.txt') == b'row 1\n'
    # Rename and delete go through batch requests: each part must reach the store.
    FileSystems.rename([f'{folder}/part-0.txt'], [f'{folder}/moved/part-0.txt'])
    FileSystems.delete([f'{folder}/part-1.txt', f'{folder}/part-2.txt'])
    bucket, prefix = folder[len('gs://'):].split('/', 1)
    assert emulator.objects(bucket, prefix + '/') == [f'{prefix}/moved/part-0.txt']


def _objects(emulator, prefix: str) -> list:
    """The object names under ``prefix`` in the module's bucket, relative to it."""
    return [n[len(prefix):] for n in emulator.objects(BUCKET, prefix)]


@pytest.fixture(scope='module')
def reviews_csv(gcs, tmp_path_factory):
    """40 labelled reviews, uploaded."""
    local = write_csv(str(tmp_path_factory.mktemp('csv') / 'reviews.csv'), review_rows(40))
    return _upload(local, f'{gcs[1]}/inputs/reviews.csv')


EXPLORE_OUTPUT = ['manifest.json', 'rejected/rejected-00000-of-00001.jsonl', 'report.html',
                  'stats.json']


def test_explore_reads_and_writes_gs_and_publishes_no_temporary_folder(gcs, reviews_csv):
    emulator, root = gcs
    done = _cli('explore', '--input', reviews_csv, '--output', f'{root}/explore')
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads(_read(f'{root}/explore/manifest.json'))
    assert manifest['status'] == 'ok' and manifest['counts']['read'] == 40
    assert b'<html' in _read(f'{root}/explore/report.html').lower()
    # Whole: no _stats/ or Beam temporary folders inside, and no staging folder beside.
    assert _objects(emulator, 'explore') == [f'/{name}' for name in EXPLORE_OUTPUT]


def test_a_rerun_of_score_leaves_no_object_of_the_old_output(gcs, reviews_csv, trained):
    emulator, root = gcs
    output = f'{root}/score'
    args = ['score', '--input', reviews_csv, '--model', trained['model'], '--output', output]
    first = _cli(*args)
    assert first.returncode == 0, first.stderr[-3000:]
    published = _objects(emulator, 'score/')
    assert 'manifest.json' in published and not [n for n in published if n.startswith('_')]
    # A stale shard, as a run with more workers would have left it.
    stray = f'{output}/predictions/predictions-00001-of-00002.jsonl'
    _upload(trained['csv'], stray)
    again = _cli(*args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert _objects(emulator, 'score/') == published
    predictions = [json.loads(line) for name in published if name.startswith('predictions/')
                   for line in _read(f'{output}/{name}').decode().splitlines() if line]
    assert len(predictions) == 40


def test_a_killed_runs_staging_folder_is_removed_by_the_next_run(gcs, reviews_csv):
    emulator, root = gcs
    args = ['explore', '--input', reviews_csv, '--output', f'{root}/killed']
    run = processes.start(args)
    try:
        staged = processes.wait_for(lambda: _objects(emulator, 'killed.partial-'), 120)
    finally:
        run.send_signal(signal.SIGKILL)
        run.communicate()
    assert staged, 'the run ended before it wrote anything to stage'
    assert _objects(emulator, 'killed.partial-')     # the killed run's debris, still there
    done = _cli(*args)
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'left by an earlier run of this output that was killed' in done.stderr
    assert _objects(emulator, 'killed') == [f'/{name}' for name in EXPLORE_OUTPUT]


@pytest.mark.parametrize('required', ['', '1'])
def test_without_go_the_emulator_tests_skip_unless_required(tmp_path, monkeypatch, required):
    monkeypatch.setenv('IMDB_SENTIMENT_CACHE', str(tmp_path))  # no binary built there
    monkeypatch.setattr(gcs_emulator, '_go', lambda: None)
    monkeypatch.setenv(gcs_emulator.REQUIRE_ENV, required)
    outcome = pytest.fail.Exception if required else pytest.skip.Exception
    with pytest.raises(outcome, match='Go is not installed'):
        with gcs_emulator.running(str(tmp_path)):
            pass
