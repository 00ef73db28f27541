"""`imdb-sentiment evaluate`, the model gate, with a real model: what it judges on, what it
refuses, and what every verdict states."""

import logging
import os
import shutil

import pytest

from pipeline import cli, registry
from tests.support.datasets import generated_reviews, write_csv
from tests.support.read import read_json
from transforms import schema

pytestmark = pytest.mark.e2e

FLOOR = ['--min-accuracy', '0.6']  # 240 generated reviews: a tiny model, a lower floor


@pytest.fixture(scope='module')
def held_out(tmp_path_factory):
    """240 labelled reviews no model of the ``trained`` fixture saw."""
    root = tmp_path_factory.mktemp('held_out')
    return write_csv(str(root / 'held_out.csv'), generated_reviews(240, seed=2))


def test_plain_exports_are_judged_and_the_verdict_states_what_it_can_detect(
        trained, held_out, tmp_path, caplog):
    """Two exports that are no registry's versions: the report renders (it crashed on the
    missing version), and the verdict, its page and its line state the smallest difference
    240 reviews detect."""
    caplog.set_level(logging.INFO, logger='pipeline.jobs.evaluate')
    baseline = str(tmp_path / 'old_model')
    shutil.copytree(trained['model'], baseline)
    out = tmp_path / 'gate'
    assert cli.main(['evaluate', '--candidate', trained['model'], '--baseline', baseline,
                     '--data', held_out, '--output', str(out), *FLOOR]) == 0
    verdict = read_json(out / schema.VERDICT_FILE)
    assert verdict['blessed'] and verdict['reviews'] == 240
    assert verdict['min_detectable_difference'] == pytest.approx(0.0895, abs=1e-4)
    assert verdict['baseline']['path'] == baseline and 'version' not in verdict['baseline']
    assert verdict['judged_on'] == '--data (no gate set pinned)'
    page = (out / schema.REPORT_FILE).read_text(encoding='utf-8')
    assert 'at 95% confidence: 0.0895' in page and '(version' not in page
    assert ('Blessed on 240 labelled reviews of --data (no gate set pinned) (the smallest '
            'accuracy difference they detect at 95%: 0.0895)') in caplog.text


def test_what_the_gate_refuses(trained, held_out, tmp_path, capsys):
    """Reviews the candidate trained on, an output inside a registry (exit 2, nothing
    written), one review (not blessed), and a registry with no champion as the baseline
    (the floor alone, said so)."""
    eval_split = os.path.join(trained['preprocess'], schema.EVAL_REVIEWS_DIR, 'eval-*.csv')
    for data, why in ((trained['csv'], 'whose train split the candidate learnt from'),
                      (eval_split, 'the eval split that the candidate was refitted on')):
        assert cli.main(['evaluate', '--candidate', trained['model'], '--data', data,
                         '--output', str(tmp_path / 'trained_on')]) == 2
        assert why in capsys.readouterr().err
    assert not (tmp_path / 'trained_on').exists()

    models = tmp_path / 'models'
    shutil.copytree(trained['model'], registry.version_path(str(models), 1))
    assert cli.main(['evaluate', '--candidate', str(models / '1'), '--data', held_out,
                     '--output', str(models / '7')]) == 2
    assert 'inside the model registry' in capsys.readouterr().err
    assert sorted(os.listdir(models)) == ['1'] and registry.next_version(str(models)) == 2

    one = write_csv(str(tmp_path / 'one.csv'), generated_reviews(1, seed=9))
    assert cli.main(['evaluate', '--candidate', trained['model'], '--data', one, '--output',
                     str(tmp_path / 'one'), *FLOOR]) == 4
    err = capsys.readouterr().err
    assert 'not blessed on 1 labelled reviews' in err and 'enough reviews (1 labelled' in err
    assert read_json(tmp_path / 'one' / schema.VERDICT_FILE)['min_detectable_difference'] == 1

    assert cli.main(['evaluate', '--candidate', str(models / '1'), '--baseline', str(models),
                     '--data', held_out, '--output', str(tmp_path / 'alone'), *FLOOR]) == 0
    verdict = read_json(tmp_path / 'alone' / schema.VERDICT_FILE)
    assert verdict['baseline'] is None and 'has no champion yet' in verdict['no_baseline']
    assert [c['check'] for c in verdict['checks']] == ['enough reviews', 'accuracy floor']


def test_a_registry_that_cannot_keep_the_verdict_is_refused_before_any_work(
        trained, held_out, tmp_path, capsys, monkeypatch):
    """Case 10: evaluate published its output, then lost the verdict to a PermissionError
    (exit 1). The verdict goes into the candidate's registry: one that cannot be written is
    a usage error before the job (as root, writability is what os.access says)."""
    models = str(tmp_path / 'models')
    shutil.copytree(trained['model'], registry.version_path(models, 1))
    monkeypatch.setattr(registry.os, 'access', lambda path, mode: not path.startswith(models))
    assert cli.main(['evaluate', '--candidate', os.path.join(models, '1'), '--data', held_out,
                     '--output', str(tmp_path / 'eval'), *FLOOR]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f'--candidate {models}: cannot write in' in err
    assert not (tmp_path / 'eval').exists()
    assert not os.path.exists(os.path.join(models, registry.VERDICTS_DIR))
