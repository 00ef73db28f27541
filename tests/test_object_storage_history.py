"""The history of the nights on object storage (gs://), against a real GCS API on 127.0.0.1.

fake-gcs-server (tests/support/gcs_emulator.py) serves one in-memory store for the module. A
nightly ``score --dates`` runs as a user runs it (``python -m pipeline.cli``), once into a gs://
root and once into a local folder, on the same reviews with the same model: the two histories
must tell the same nights. Then, in this process: a damaged manifest on gs:// is a damaged
row, and two rebuilds racing each other both end in the history. Without Go the module skips,
unless ``IMDB_SENTIMENT_REQUIRE_GCS=1`` (CI), where it fails.
"""

import json
import os
import re
import subprocess
import sys
import uuid
from typing import Dict, List

import pytest

from tests.support import gcs_emulator, nights
from tests.support.datasets import generated_reviews, write_csv
from tests.support.paths import ROOT

pytestmark = pytest.mark.e2e
BUCKET = 'history-test'
DATES = ['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04']
FAILING = '2026-11-03'   # its file is mostly rejects: a failed run, kept beside the nights
NIGHTLY_ROOT_OBJECTS = {'history.json', 'index.html'}


@pytest.fixture(scope='module')
def gcs(tmp_path_factory):
    """(the emulator, a bucket's gs:// root) for the module."""
    with gcs_emulator.running_with_bucket(tmp_path_factory, BUCKET) as emulator:
        yield emulator, f'gs://{BUCKET}'


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'pipeline.cli', *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def _read(path: str) -> bytes:
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return f.read()


def _write(path: str, data: bytes) -> None:
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        f.write(data)


def _night_rows(date: str) -> List:
    if date == FAILING:
        return [('', 'positive'), ('fine', 'maybe'), ('a good film', 'positive')]
    return generated_reviews(30 + 10 * DATES.index(date), seed=DATES.index(date))


def _top_level(emulator, prefix: str) -> set:
    """The first names under ``prefix/`` in the module's bucket (objects and "folders")."""
    return {name[len(prefix) + 1:].split('/', 1)[0]
            for name in emulator.objects(BUCKET, prefix + '/')}


@pytest.fixture(scope='module')
def backfills(gcs, trained, tmp_path_factory):
    """``score --dates`` over the four nights into a gs:// root and into a local root, each
    reading the same files on its own side: {'gs': (root, completed process), 'local': ...}."""
    _, bucket = gcs
    local = tmp_path_factory.mktemp('nightly')
    for date in DATES:
        folder = local / 'incoming' / f'dt={date}'
        folder.mkdir(parents=True)
        write_csv(str(folder / 'r.csv'), _night_rows(date))
        _write(f'{bucket}/nightly/incoming/dt={date}/r.csv', (folder / 'r.csv').read_bytes())
    done = {}
    for side, base in (('gs', f'{bucket}/nightly'), ('local', str(local))):
        root = f'{base}/scores'
        done[side] = root, _cli('score', '--input', f'{base}/incoming/dt={{date}}/r.csv',
                                '--model', trained['model'], '--output', root, '--no-explain',
                                '--dates', f'{DATES[0]}..{DATES[-1]}')
    return done


def _comparable(night: Dict) -> Dict:
    """A history row without what names one run's folder (a failed run's UTC stamp)."""
    return {k: v for k, v in night.items() if k not in ('output', 'link')}


def test_a_nightly_backfill_on_gs_writes_the_history_a_local_one_writes(gcs, backfills):
    emulator, _ = gcs
    (root, on_gs), (local_root, on_disk) = backfills['gs'], backfills['local']
    for run in (on_gs, on_disk):  # the failing night is the backfill's exit code: 3
        assert run.returncode == 3, run.stderr[-3000:]
        assert f'{FAILING}: exit 3' in run.stderr
    history = json.loads(_read(f'{root}/history.json'))
    local = json.load(open(os.path.join(local_root, 'history.json'), encoding='utf-8'))
    assert history['root'] == root
    assert [(n['date'], n['status']) for n in history['nights']] == [
        (d, 'failed' if d == FAILING else 'ok') for d in DATES]
    assert [_comparable(n) for n in history['nights']] == \
        [_comparable(n) for n in local['nights']]
    scored = [n['scored'] for n in history['nights'] if n['status'] == 'ok']
    assert scored == [30, 40, 60]
    assert [n['compared_with'] for n in history['nights'] if n['status'] == 'ok'] == [
        None, '2026-11-01', '2026-11-02']
    failed = history['nights'][DATES.index(FAILING)]
    assert re.fullmatch(rf'dt={FAILING}\.failed-[0-9TZ-]+', failed['output'])
    assert 'rejected' in failed['problem']
    # The page, served as one: every night and the failed run, with its folder.
    bucket_name, prefix = root[len('gs://'):].split('/', 1)
    page = _read(f'{root}/index.html').decode('utf-8')
    for date in DATES:
        if date != FAILING:
            assert f'id="night-{date}"' in page
    assert f'id="failed-{failed["output"]}"' in page
    from apache_beam.io.gcp import gcsio
    blob = gcsio.GcsIO().client.bucket(bucket_name).get_blob(f'{prefix}/index.html')
    assert blob.content_type.startswith('text/html')
    # Nothing else beside the nights: the history's lock given back, no staging, no commit.
    assert _top_level(emulator, prefix) == NIGHTLY_ROOT_OBJECTS | {
        f'dt={d}' for d in DATES if d != FAILING} | {failed['output']}


def test_a_second_dated_run_accepts_a_gs_root_holding_the_history(gcs, backfills, trained):
    """The guard takes the root's history files as the score job's own: a rerun of one
    night is not refused, and the history is rebuilt with it."""
    root, _ = backfills['gs']
    before = json.loads(_read(f'{root}/history.json'))
    base = root.rsplit('/', 1)[0]
    again = _cli('score', '--input', f'{base}/incoming/dt={{date}}/r.csv', '--model',
                 trained['model'], '--output', root, '--no-explain', '--date', DATES[-1])
    assert again.returncode == 0, again.stderr[-3000:]
    after = json.loads(_read(f'{root}/history.json'))
    assert after['updated'] >= before['updated']
    assert [_comparable(n) for n in after['nights']][:-1] == \
        [_comparable(n) for n in before['nights']][:-1]
    assert after['nights'][-1]['date'] == DATES[-1] and after['nights'][-1]['status'] == 'ok'


def test_a_gs_nightly_root_holds_only_nights_and_their_history(gcs, backfills, trained):
    """What a dated run refuses on gs:// as on disk: a user's files, an ad-hoc output; what it
    accepts: nights, what runs leave beside them (a lock, a commit object) and the history."""
    from pipeline.runtime.guard import check_nightly_root
    from transforms.errors import OutputError
    emulator, _ = gcs
    root, _ = backfills['gs']
    check_nightly_root(root)
    busy = _copy_nights(root, ['2026-11-01'])
    for name in ('history.json', 'index.html', 'history.lock', 'dt=2026-11-02.lock',
                 'dt=2026-11-02.commit', 'dt=2026-11-02.partial-0123abcd/metrics.json'):
        _write(f'{busy}/{name}', b'{}')
    check_nightly_root(busy)
    ad_hoc = f'gs://{BUCKET}/ad-hoc-{uuid.uuid4().hex[:8]}'
    from pipeline.runtime import object_store
    object_store.copy_folder(f'{root}/dt=2026-11-01', ad_hoc)
    with pytest.raises(OutputError, match='without --date'):
        check_nightly_root(ad_hoc)
    mine = f'gs://{BUCKET}/mine-{uuid.uuid4().hex[:8]}'
    _write(f'{mine}/notes/today.txt', b'my notes')
    before = emulator.objects(BUCKET, mine[len(f'gs://{BUCKET}/'):])
    refused = _cli('score', '--input', f'{root.rsplit("/", 1)[0]}/incoming/dt={{date}}/r.csv',
                   '--model', trained['model'], '--output', mine, '--date', DATES[0])
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert 'holds files that are not nightly partitions (notes...)' in refused.stderr
    assert 'Traceback' not in refused.stderr
    assert emulator.objects(BUCKET, mine[len(f'gs://{BUCKET}/'):]) == before


def _copy_nights(source_root: str, dates: List[str]) -> str:
    """A new gs:// root holding copies of the published nights ``dates`` of ``source_root``."""
    from pipeline.runtime import object_store
    root = f'gs://{BUCKET}/copies-{uuid.uuid4().hex[:8]}'
    for date in dates:
        object_store.copy_folder(f'{source_root}/dt={date}', f'{root}/dt={date}')
    return root


def test_a_damaged_manifest_on_gs_is_a_damaged_row_and_the_rebuild_goes_on(gcs, backfills):
    from pipeline import history
    root = _copy_nights(backfills['gs'][0], ['2026-11-01', '2026-11-02', '2026-11-04'])
    _write(f'{root}/dt=2026-11-02/manifest.json', b'[]')
    # A night whose manifest is gone, its other objects still there (as a publish leaves it
    # for a moment): found by listing, and damaged.
    from pipeline.runtime import object_store
    object_store.delete(f'{root}/dt=2026-11-04/manifest.json')
    assert history.write_history(root) == f'{root}/index.html'
    rows = json.loads(_read(f'{root}/history.json'))['nights']
    assert [(r['date'], r['status']) for r in rows] == [
        ('2026-11-01', 'ok'), ('2026-11-02', 'damaged'), ('2026-11-04', 'damaged')]
    assert 'not a JSON object' in rows[1]['problem'] and 'scored' not in rows[1]
    assert rows[2]['problem'] == 'no manifest.json'
    assert rows[0]['scored'] == 30
    assert _read(f'{root}/index.html').decode('utf-8').count('>damaged<') == 2


def test_two_rebuilds_racing_each_end_with_both_nights(gcs, backfills, monkeypatch):
    """Rebuild A lists the root holding only its own night, then stalls; meanwhile B publishes
    its night and rebuilds. The history ends with both nights (without the lock, A's stale
    listing would be written last)."""
    from pipeline.runtime import object_store
    source = backfills['gs'][0]
    root = _copy_nights(source, ['2026-11-01'])
    results = nights.rebuilds_racing(root, lambda: object_store.copy_folder(
        f'{source}/dt=2026-11-02', f'{root}/dt=2026-11-02'), monkeypatch)
    assert results == {'a': f'{root}/index.html', 'b': f'{root}/index.html'}
    rows = json.loads(_read(f'{root}/history.json'))['nights']
    assert [(r['date'], r['status']) for r in rows] == [('2026-11-01', 'ok'),
                                                        ('2026-11-02', 'ok')]
    page = _read(f'{root}/index.html').decode('utf-8')
    assert 'id="night-2026-11-01"' in page and 'id="night-2026-11-02"' in page


def test_a_rebuild_that_cannot_get_the_lock_in_time_writes_nothing_and_says_so(
        gcs, backfills, monkeypatch, caplog):
    """The lock held by a live run past the wait: the history is left as it was, with a
    warning (the next rebuild lists this night too); once given back, a rebuild writes."""
    from pipeline import history
    from pipeline.runtime.lease import Lease
    root = _copy_nights(backfills['gs'][0], ['2026-11-01'])
    holder = Lease(f'{root}/history.lock')
    assert holder.acquire() is None   # this process: alive, so never taken over
    monkeypatch.setattr(history, 'WAIT_S', 2.0)
    try:
        assert history.write_history(root) is None
    finally:
        holder.release()
    assert f'The history of {root} was not rebuilt' in caplog.text
    assert _top_level(gcs[0], root[len(f'gs://{BUCKET}/'):]) == {'dt=2026-11-01'}
    assert history.write_history(root) == f'{root}/index.html'
    assert [n['date'] for n in json.loads(_read(f'{root}/history.json'))['nights']] == [
        '2026-11-01']
