"""The model registry's bookkeeping and the model gate's arithmetic, on small made-up inputs."""

import json
import math
import os

import pytest

from analysis import gate
from pipeline import registry
from transforms import schema
from transforms.errors import ModelError


def _version(root, number, created='2026-11-01T00:00:00+00:00'):
    folder = root / str(number)
    folder.mkdir(parents=True)
    (folder / schema.SAVED_MODEL_FILE).write_bytes(b'not read here')
    (folder / schema.MANIFEST_FILE).write_text(json.dumps({'status': 'ok', 'created': created}))
    return folder


def test_versions_are_integer_folders_and_the_next_one_skips_what_is_being_written(tmp_path):
    assert not registry.is_registry(str(tmp_path)) and registry.next_version(str(tmp_path)) == 1
    _version(tmp_path, 1)
    _version(tmp_path, 2)
    (tmp_path / '3.partial-0123abcd').mkdir()   # a version being written
    (tmp_path / 'notes').mkdir()                 # not a version
    (tmp_path / '07').mkdir()                    # nor this: versions have no leading zero
    assert registry.versions(str(tmp_path)) == [1, 2]
    assert registry.next_version(str(tmp_path)) == 4
    assert registry.is_registry(str(tmp_path))


def test_promote_refuses_an_unblessed_version_and_records_who_and_why(tmp_path):
    root = str(tmp_path)
    for number in (1, 2, 3):
        _version(tmp_path, number)
    with pytest.raises(ModelError, match='never evaluated'):
        registry.promote(root, 1, 'first')
    registry.record_verdict(root, 1, {'blessed': True, 'checks': []})
    registry.record_verdict(root, 2, {'blessed': False, 'checks': []})
    first = registry.promote(root, 1, 'first')
    assert first['version'] == 1 and first['previous'] is None and first['by']
    assert first['reason'] == 'first' and first['evaluation']['blessed'] is True
    with pytest.raises(ModelError, match='not blessed'):
        registry.promote(root, 2, 'worse')
    with pytest.raises(ModelError, match='no version 9'):
        registry.promote(root, 9, 'missing', force=True)
    forced = registry.promote(root, 2, 'needed tonight', force=True)
    assert forced['forced'] is True and forced['previous'] == 1
    assert registry.champion(root)['version'] == 2
    # Only the record remains beside the versions: no temporary file left behind.
    assert sorted(os.listdir(root)) == ['1', '2', '3', 'blessings', 'champion.json']


def test_rollback_walks_back_through_the_champions(tmp_path):
    root = str(tmp_path)
    for number in (1, 2, 3):
        _version(tmp_path, number)
        registry.record_verdict(root, number, {'blessed': True, 'checks': []})
        registry.promote(root, number, f'v{number}')
    assert registry.rollback(root, 'v3 is worse')['version'] == 2
    back = registry.rollback(root, 'v2 too')
    assert back['version'] == 1 and back['rolled_back_from'] == 2
    with pytest.raises(ModelError, match='no earlier champion'):
        registry.rollback(root, 'again')


def test_a_champion_record_that_is_not_an_object_is_a_usage_error(tmp_path):
    _version(tmp_path, 1)
    (tmp_path / registry.CHAMPION_FILE).write_text('[1]')
    with pytest.raises(ModelError, match='not a champion record'):
        registry.champion(str(tmp_path))


def test_mcnemar_exact_and_chi_square():
    # Exact: 1 of 10 discordant pairs -> two-sided binomial tail 2 * 11/1024.
    small = gate.mcnemar(1, 9)
    assert small['method'] == 'exact binomial'
    assert small['p_value'] == pytest.approx(2 * 11 / 1024)
    # Chi-square with continuity correction: (|60 - 30| - 1)^2 / 90 = 9.344...
    large = gate.mcnemar(60, 30)
    assert large['statistic'] == pytest.approx(29 ** 2 / 90)
    assert large['p_value'] == pytest.approx(math.erfc(math.sqrt(29 ** 2 / 90 / 2)))
    assert gate.mcnemar(0, 0)['p_value'] == 1.0


def _metrics(accuracy, auc=0.95, ece=0.02, slices=None):
    return {'accuracy': accuracy, 'roc_auc': auc, 'calibration': {'ece': ece},
            'error_slices': slices or {}}


def test_the_verdict_checks_each_threshold_and_says_why():
    t = gate.Thresholds()
    assert gate.verdict(_metrics(0.9), _metrics(0.9), t)['blessed'] is True
    worse = gate.verdict(_metrics(0.88), _metrics(0.9), t)
    assert worse['blessed'] is False
    failed = [c['check'] for c in worse['checks'] if not c['passed']]
    assert failed == ['accuracy against the baseline']
    assert gate.verdict(_metrics(0.9, ece=0.08), _metrics(0.9), t)['blessed'] is False
    assert gate.verdict(_metrics(0.9, auc=0.90), _metrics(0.9), t)['blessed'] is False
    # A slice of 300 reviews losing 5 points fails; one of 50 reviews is too small to count.
    mine = {'length_words': {'long': {'count': 300, 'errors': 60},
                             'tiny': {'count': 50, 'errors': 25}}}
    theirs = {'length_words': {'long': {'count': 300, 'errors': 45},
                               'tiny': {'count': 50, 'errors': 5}}}
    sliced = gate.verdict(_metrics(0.9, slices=mine), _metrics(0.9, slices=theirs), t)
    assert [c for c in sliced['checks'] if c['check'] == 'slices'][0]['detail'].startswith(
        'length_words=long (300 reviews): -0.0500')
    # Without a baseline, the floor alone decides.
    alone = gate.verdict(_metrics(0.79, ece=0.5), None, t)
    assert alone['blessed'] is False and [c['check'] for c in alone['checks']] == [
        'accuracy floor']
    assert gate.verdict(_metrics(0.81, ece=0.5), None, t)['blessed'] is True
