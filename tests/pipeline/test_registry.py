"""The model registry's bookkeeping: integer versions, promotion, rollback and the champion
record."""

import json
import os

import pytest

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
