"""The history of the nights: every malformed partition listed as damaged (never a crash),
failed runs shown with where their output went, a model known by its content, and two
rebuilds at once losing no night. (On gs://: tests/test_object_storage_history.py.)"""

import json
import os

from pipeline import history
from tests.support import nights
from tests.support.read import read_json
from transforms import schema


def _edit_manifest(part, **fields):
    path = os.path.join(part, schema.MANIFEST_FILE)
    manifest = read_json(path)
    manifest.update(fields)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(manifest, f)


def test_malformed_partitions_are_listed_as_damaged_and_failed_runs_as_failed(tmp_path):
    root = str(tmp_path / 'scores')
    parts = {d: nights.publish(root, f'2026-11-0{d}', seed=d)[0] for d in range(1, 7)}
    with open(os.path.join(parts[2], schema.MANIFEST_FILE), 'w') as f:
        f.write('[]')
    _edit_manifest(parts[3], counts=[1])
    _edit_manifest(parts[4], model='oops')
    _edit_manifest(parts[5], metrics={'positive_rate': 'high'}, drift_alerts=7)
    failed = os.path.join(root, 'dt=2026-11-07.failed-20261107T010203Z')
    os.makedirs(failed)
    with open(os.path.join(failed, schema.MANIFEST_FILE), 'w') as f:
        json.dump({'status': 'failed', 'error': '40 of 50 records rejected'}, f)

    page = history.write_history(root)
    rows = read_json(os.path.join(root, history.HISTORY_FILE))['nights']
    assert [(r['date'], r['status']) for r in rows] == [
        ('2026-11-01', 'ok'), ('2026-11-02', 'damaged'), ('2026-11-03', 'damaged'),
        ('2026-11-04', 'damaged'), ('2026-11-05', 'damaged'), ('2026-11-06', 'ok'),
        ('2026-11-07', 'failed')]
    assert 'not a JSON object' in rows[1]['problem'] and 'counts' not in rows[1]
    assert 'malformed' in rows[2]['problem'] and rows[3]['output'] == 'dt=2026-11-04'
    assert rows[6]['output'] == os.path.basename(failed)
    assert rows[6]['problem'] == '40 of 50 records rejected'
    html = open(page, encoding='utf-8').read()
    assert 'id="night-2026-11-06"' in html and 'id="failed-dt=2026-11-07.failed-' in html
    assert f'its output is in <code>{os.path.basename(failed)}</code>' in html
    assert html.count('>damaged<') == 4


def test_the_same_model_in_another_folder_is_no_model_change(tmp_path):
    root = str(tmp_path / 'scores')
    folders = {}
    for name, created in (('a', '2026-10-01'), ('copy-of-a', '2026-10-01'), ('b', '2026-10-02')):
        folders[name] = str(tmp_path / name)
        os.makedirs(folders[name])
        with open(os.path.join(folders[name], schema.MANIFEST_FILE), 'w') as f:
            json.dump({'status': 'ok', 'created': created}, f)
    for day, name in ((1, 'a'), (2, 'copy-of-a'), (3, 'b')):
        nights.publish(root, f'2026-11-0{day}', seed=day, model=folders[name])
    history.write_history(root)
    rows = read_json(os.path.join(root, history.HISTORY_FILE))['nights']
    assert rows[0]['model']['sha256'] == rows[1]['model']['sha256'] != rows[2]['model']['sha256']
    html = open(os.path.join(root, history.INDEX_FILE), encoding='utf-8').read()
    assert 'the model changed on 2026-11-03' in html and '2026-11-02,' not in html


def test_two_rebuilds_racing_each_end_with_both_nights(tmp_path, monkeypatch):
    root = str(tmp_path / 'scores')
    nights.publish(root, '2026-11-01', seed=1)
    results = nights.rebuilds_racing(
        root, lambda: nights.publish(root, '2026-11-02', seed=2), monkeypatch)
    assert results == {'a': os.path.join(root, history.INDEX_FILE),
                       'b': os.path.join(root, history.INDEX_FILE)}
    rows = read_json(os.path.join(root, history.HISTORY_FILE))['nights']
    assert [(r['date'], r['status']) for r in rows] == [('2026-11-01', 'ok'),
                                                        ('2026-11-02', 'ok')]
    assert sorted(os.listdir(root)) == ['dt=2026-11-01', 'dt=2026-11-02', 'history.json',
                                        'history.lock', 'index.html']
