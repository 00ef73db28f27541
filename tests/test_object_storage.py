"""Outputs and inputs on object storage (gs://), against a real GCS API on 127.0.0.1.

fake-gcs-server (tests/support/gcs_emulator.py) serves one in-memory store for the module;
the jobs run as a user runs them, ``python -m pipeline.cli`` in their own processes, which
reach it through ``STORAGE_EMULATOR_HOST`` and the test-side shim. Without Go the module
skips, unless ``IMDB_SENTIMENT_REQUIRE_GCS=1`` (CI), where it fails.
"""

import json
import subprocess
import sys
import uuid

import pytest

from tests.support import gcs_emulator
from tests.support.datasets import review_rows, write_csv
from tests.support.paths import ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture(scope='module')
def gcs(tmp_path_factory):
    """(the emulator, a bucket's gs:// root) for the module."""
    with gcs_emulator.running(str(tmp_path_factory.mktemp('gcs'))) as emulator:
        yield emulator, emulator.create_bucket('imdb-test')


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


def test_explore_reads_and_writes_gs(gcs, tmp_path):
    emulator, root = gcs
    data = _upload(write_csv(str(tmp_path / 'reviews.csv'), review_rows(40)),
                   f'{root}/explore-in/reviews.csv')
    output = f'{root}/explore-out'
    done = _cli('explore', '--input', data, '--output', output)
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads(_read(f'{output}/manifest.json'))
    assert manifest['status'] == 'ok' and manifest['counts']['read'] == 40
    assert b'<html' in _read(f'{output}/report.html').lower()
    assert 'manifest.json' in {n.rsplit('/', 1)[-1] for n in
                               emulator.objects('imdb-test', 'explore-out/')}


@pytest.mark.parametrize('required', ['', '1'])
def test_without_go_the_emulator_tests_skip_unless_required(tmp_path, monkeypatch, required):
    monkeypatch.setenv('IMDB_SENTIMENT_CACHE', str(tmp_path))  # no binary built there
    monkeypatch.setattr(gcs_emulator, '_go', lambda: None)
    monkeypatch.setenv(gcs_emulator.REQUIRE_ENV, required)
    outcome = pytest.fail.Exception if required else pytest.skip.Exception
    with pytest.raises(outcome, match='Go is not installed'):
        with gcs_emulator.running(str(tmp_path)):
            pass
