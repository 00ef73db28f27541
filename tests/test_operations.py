"""Nightly operations with real jobs: the model gate, promotion and rollback, a promote racing
a nightly run, a week's backfill, and the history page in headless Chromium."""

import glob
import json
import logging
import os
import shutil
import subprocess
import sys

import pytest

from pipeline import cli, gate_set, model_lookup, registry
from tests.support import browser
from tests.support.processes import TINY_MODEL
from tests.support.datasets import generated_reviews, write_csv
from tests.support.read import read_json
from transforms import schema
from transforms.beam.inference import verify_export
from tests.support.paths import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

FLOOR = ['--min-accuracy', '0.6']  # 240 generated reviews: a tiny model, a lower floor


@pytest.fixture(scope='module')
def flipped(trained, tmp_path_factory):
    """A model trained on the same reviews with every label flipped: what a broken file
    (a label column inverted) produces."""
    root = tmp_path_factory.mktemp('flipped')
    other = {'positive': 'negative', 'negative': 'positive'}
    data = write_csv(str(root / 'flipped.csv'), [(t, other[l]) for t, l in trained['rows']])
    pre, model = str(root / 'preprocess'), str(root / 'model')
    assert cli.main(['preprocess', '--input', data, '--output', pre, '--max-tokens', '32']) == 0
    assert cli.main(['train', '--data', pre, '--output', model, '--epochs', '1',
                     *TINY_MODEL]) == 0
    return model


def _night(trained, models, output, date):
    assert cli.main(['score', '--input', trained['csv'], '--model', models, '--output', output,
                     '--date', date, '--no-explain']) == 0
    return read_json(os.path.join(output, f'dt={date}', schema.MANIFEST_FILE))['model']


def test_the_gate_refuses_a_broken_model_promotes_a_good_one_and_rolls_back(
        trained, flipped, tmp_path, capsys):
    models, scores = str(tmp_path / 'models'), str(tmp_path / 'scores')
    os.makedirs(models)
    shutil.copytree(trained['model'], registry.version_path(models, 1))
    # Reviews no model here was trained on: the gate never judges on training data.
    held_out = write_csv(str(tmp_path / 'held_out.csv'), generated_reviews(240, seed=2))
    # The first model: no champion yet, so the floor alone decides; then it is promoted, and
    # the reviews that blessed it become the registry's gate set.
    assert cli.main(['evaluate', '--candidate', registry.version_path(models, 1), '--data',
                     held_out, '--output', str(tmp_path / 'e1'), *FLOOR]) == 0
    assert registry.verdict(models, 1)['blessed'] is True
    assert cli.main(['models', 'promote', models, '1', '--reason', 'first']) == 0
    assert gate_set.manifest(models)['count'] == 240
    assert _night(trained, models, scores, '2026-11-01')['version'] == 1

    # A candidate trained on flipped labels: not blessed, not promotable, not used.
    shutil.copytree(flipped, registry.version_path(models, 2))
    code = cli.main(['evaluate', '--candidate', registry.version_path(models, 2), '--baseline',
                     models, '--data', held_out, '--output', str(tmp_path / 'e2'), *FLOOR])
    err = capsys.readouterr().err
    assert code == 4 and 'not blessed' in err and 'accuracy' in err
    verdict = read_json(tmp_path / 'e2' / schema.VERDICT_FILE)
    assert verdict['blessed'] is False and verdict['paired_test']['p_value'] < 0.05
    assert verdict['judged_on'] == f'the gate set of {models}' and not verdict['suspect']
    comparison = read_json(tmp_path / 'e2' / 'comparison.json')
    assert comparison['baseline']['model']['version'] == 1
    assert {r['measure'] for r in comparison['headline']} >= {'accuracy', 'roc_auc', 'ece'}
    assert cli.main(['models', 'promote', models, '2', '--reason', 'try']) == 2
    assert 'not blessed' in capsys.readouterr().err
    assert _night(trained, models, scores, '2026-11-02')['version'] == 1

    # A good candidate (the same model again): blessed, promoted, used.
    shutil.copytree(trained['model'], registry.version_path(models, 3))
    assert cli.main(['evaluate', '--candidate', models, '--baseline', models, '--data',
                     held_out, '--output', str(tmp_path / 'e3'), *FLOOR]) == 0
    assert cli.main(['models', 'promote', models, '3', '--reason', 'blessed']) == 0
    assert _night(trained, models, scores, '2026-11-03')['version'] == 3
    champion = registry.champion(models)
    assert champion['previous'] == 1 and champion['by'] and champion['reason'] == 'blessed'

    # Rollback: the champion before comes back, and the next night uses it.
    assert cli.main(['models', 'rollback', models, '--reason', 'complaints']) == 0
    assert _night(trained, models, scores, '2026-11-04')['version'] == 1
    capsys.readouterr()
    assert cli.main(['models', 'list', models]) == 0
    listed = capsys.readouterr().out
    assert 'not blessed' in listed and 'champion: version 1' in listed

    # The history: one row per night, the model change marked, in a real browser.
    history = read_json(os.path.join(scores, 'history.json'))
    assert [n['date'] for n in history['nights']] == [f'2026-11-0{d}' for d in (1, 2, 3, 4)]
    assert [n['model']['version'] for n in history['nights']] == [1, 1, 3, 1]
    browser.chromium_or_skip()
    page = browser.parse_dom(browser.dump_dom(os.path.join(scores, 'index.html')))
    assert sum(1 for i in page.ids if i.startswith('night-')) == 4
    assert {'charts', 'nights', 'chart-positive_rate', 'chart-scored'} <= page.ids
    assert 'script' not in page.tags


# Runs in a second process: promotes and rolls back as fast as it can until told to stop.
_PROMOTER = r'''
import sys
sys.path.insert(0, sys.argv[1])
from pipeline import registry
models, rounds = sys.argv[2], int(sys.argv[3])
for i in range(rounds):
    registry.promote(models, 2 if i % 2 else 1, 'race', force=True)
print('done', flush=True)
'''


def test_a_promote_racing_a_nightly_run_never_gives_it_a_mixed_model(trained, tmp_path):
    """The nightly resolves the registry's champion and checks every file of what it got,
    hundreds of times, while another process promotes two versions back and forth: each
    time it gets one whole version, never a half-written record or a mix of two."""
    models = str(tmp_path / 'models')
    os.makedirs(models)
    for number in (1, 2):
        shutil.copytree(trained['model'], registry.version_path(models, number))
    registry.promote(models, 1, 'start', force=True)
    child = subprocess.Popen([sys.executable, '-c', _PROMOTER, ROOT, models, '400'],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = set()
    try:
        while child.poll() is None:
            path = model_lookup.resolve_model(models)
            assert verify_export(path, hashes=False) is None
            seen.add(os.path.basename(path))
    finally:
        out, err = child.communicate(timeout=300)
    assert child.returncode == 0 and out.strip() == b'done', err.decode()[-2000:]
    assert seen <= {'1', '2'} and seen
    assert not glob.glob(os.path.join(models, '*.tmp-*'))


def test_a_week_of_backfill_with_a_missing_and_a_failing_date(trained, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger='pipeline.backfill')
    incoming, scores = tmp_path / 'incoming', str(tmp_path / 'scores')
    days = [f'2026-11-{d:02d}' for d in range(1, 8)]
    for day in days:
        if day == '2026-11-04':
            continue  # no data arrived that day
        folder = incoming / f'dt={day}'
        folder.mkdir(parents=True)
        if day == '2026-11-05':  # a broken file: mostly rejects
            write_csv(str(folder / 'r.csv'), [('', 'positive'), ('fine', 'maybe')])
        else:
            shutil.copy(trained['csv'], folder / 'r.csv')
    common = ['score', '--input', str(incoming / 'dt={date}' / '*.csv'), '--output', scores,
              '--no-explain']
    backfill = [*common, '--model', trained['model'], '--dates', f'{days[0]}..{days[-1]}']
    assert cli.main(backfill) == 3  # the worst: the failing date
    assert '2026-11-04: exit 5, no input' in caplog.text and '2026-11-05: exit 3' in caplog.text
    assert 'Backfill of 7 dates: 5 scored or already scored, 1 without input, 1 failed' \
        in caplog.text
    partitions = sorted(os.path.basename(p) for p in glob.glob(os.path.join(scores, 'dt=*'))
                        if '.' not in os.path.basename(p))
    assert partitions == [f'dt={d}' for d in days if d not in ('2026-11-04', '2026-11-05')]
    failed = glob.glob(os.path.join(scores, 'dt=2026-11-05.failed-*'))
    assert len(failed) == 1
    nights = read_json(os.path.join(scores, 'history.json'))['nights']
    assert [(n['date'], n['status']) for n in nights] == sorted(
        [(p[3:], 'ok') for p in partitions] + [('2026-11-05', 'failed')])
    assert nights[3]['output'] == os.path.basename(failed[0])
    # Again: the five done with this model are skipped, the two others tried again.
    caplog.clear()
    assert cli.main(backfill) == 3
    assert caplog.text.count('skipped: already scored with this model') == 5
    # The same model in another folder is the same model: nothing to score again.
    copy = str(tmp_path / 'same-model')
    shutil.copytree(trained['model'], copy)
    caplog.clear()
    assert cli.main([*common, '--model', copy, '--dates', '2026-11-01..2026-11-02']) == 0
    assert caplog.text.count('skipped: already scored with this model') == 2
    # Malformed manifests: the history lists the night as damaged, the backfill goes on and
    # scores again the night whose manifest names no model.
    for day, field in (('2026-11-02', {'counts': [1]}), ('2026-11-03', {'model': 'oops'})):
        path = os.path.join(scores, f'dt={day}', schema.MANIFEST_FILE)
        manifest = dict(read_json(path), **field)
        with open(path, 'w') as f:
            json.dump(manifest, f)
    caplog.clear()
    assert cli.main([*common, '--model', trained['model'], '--dates',
                     '2026-11-02..2026-11-04']) == 0  # the 4th had no input; the others did
    assert '2026-11-02: exit 0, skipped' in caplog.text and '2026-11-03: exit 0, scored' \
        in caplog.text and '2026-11-04: exit 5' in caplog.text
    assert 'Backfill of 3 dates: 2 scored or already scored, 1 without input, 0 failed ' \
        'or interrupted, 0 not run: exit 0' in caplog.text
    statuses = {n['date']: n['status']
                for n in read_json(os.path.join(scores, 'history.json'))['nights']}
    assert statuses['2026-11-02'] == 'damaged' and statuses['2026-11-03'] == 'ok'
    # No date with input: nothing written, exit 5.
    assert cli.main([*common, '--model', trained['model'], '--dates',
                     '2026-11-04..2026-11-04']) == 5
    # A single dated run with no input: its own exit code, nothing written.
    assert cli.main([*common, '--model', trained['model'], '--date', '2026-11-04']) == 5
    assert not os.path.exists(os.path.join(scores, 'dt=2026-11-04'))
