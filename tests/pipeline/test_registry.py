"""The model registry's bookkeeping: integer versions, promotion, rollback and the champion
record."""

import json
import multiprocessing
import os
import uuid

import pytest

from pipeline import registry
from tests.support import gcs_emulator
from tests.support.object_publish_driver import drive, version_content
from tests.support.model_versions import write_version as _version
from transforms import schema
from transforms.errors import ModelError, OutputError


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
    with pytest.raises(ModelError, match='no version 0'):
        registry.promote(root, 0, 'missing', force=True)
    forced = registry.promote(root, 2, 'needed tonight', force=True)
    assert forced['forced'] is True and forced['previous'] == 1
    assert registry.champion(root)['version'] == 2
    # Only the record remains beside the versions: no temporary file left behind.
    assert sorted(os.listdir(root)) == ['1', '2', '3', 'blessings', 'champion.json']
    assert forced[registry.SHA256_KEY] == registry.content_sha256(root, 2)
    assert forced['history'][-1] == {'version': 1, 'sha256': first['sha256'],
                                     'promoted': first['promoted'], 'by': first['by'],
                                     'reason': 'first'}


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
    with pytest.raises(ModelError, match='not a valid champion record'):
        registry.champion(str(tmp_path))


def _bless_and_promote(root, *numbers):
    for number in numbers:
        registry.record_verdict(root, number, {'blessed': True, 'checks': []})
        registry.promote(root, number, f'v{number}')


def test_a_verdict_names_the_content_it_judged_not_only_the_number(tmp_path):
    """Case 6: a blessing is for the version's content (its manifest's SHA-256); a verdict
    on other content, or none at all, blesses nothing, even if it says blessed."""
    root = str(tmp_path)
    _version(tmp_path, 1)
    registry.record_verdict(root, 1, {'blessed': True, 'checks': [],
                                      'candidate': {'sha256': 'f' * 64}})
    assert registry.verdict(root, 1)['sha256'] == 'f' * 64
    assert registry.describe_version(root, 1)['verdict'] == 'stale verdict'
    with pytest.raises(ModelError, match='verdict in blessings/1.json was for other content'):
        registry.promote(root, 1, 'stale')
    registry.record_verdict(root, 1, {'blessed': True, 'checks': []})  # the content now
    assert registry.promote(root, 1, 'fresh')['sha256'] == registry.content_sha256(root, 1)


def test_promote_verifies_the_version_even_when_forced(tmp_path):
    """Case 9: a version whose variables were truncated is never promoted."""
    root = str(tmp_path)
    folder = _version(tmp_path, 1)
    data = os.path.join(folder, schema.VARIABLES_DIR, 'variables.data-00000-of-00001')
    open(data, 'wb').close()
    with pytest.raises(ModelError, match=r'version 1 does not verify \(variables/variables'
                                         r'.data-00000-of-00001 has 0 bytes'):
        registry.promote(root, 1, 'anyway', force=True)
    assert not os.path.exists(os.path.join(root, registry.CHAMPION_FILE))


@pytest.mark.parametrize('history, problem', [
    ('not a list', 'its history is not a list'),
    ([{'version': 1}, 'x'], 'history entry 2 is not an object'),
    ([{'promoted': 'yesterday'}], 'history entry 1 names no version'),
    ([{'version': '../../x'}], "history entry 1 names no version \\(an integer\\): '../../x'"),
    ([{'version': True}], 'history entry 1 names no version'),
])
def test_a_malformed_history_is_one_error_naming_the_file_and_the_repair(tmp_path, history,
                                                                           problem):
    """Cases 7 and 8: list, score and rollback read the record through champion(), which
    refuses it whole; promote replaces it, keeping the entries it can read."""
    root = str(tmp_path)
    for number in (1, 2):
        _version(tmp_path, number)
    _bless_and_promote(root, 1, 2)
    record = json.loads((tmp_path / registry.CHAMPION_FILE).read_text())
    (tmp_path / registry.CHAMPION_FILE).write_text(json.dumps(dict(record, history=history)))
    for call in (lambda: registry.champion(root), lambda: registry.rollback(root, 'r')):
        with pytest.raises(ModelError, match=problem) as raised:
            call()
        assert str(tmp_path / registry.CHAMPION_FILE) in str(raised.value)
        assert f'models promote {root} VERSION --force' in str(raised.value)
    repaired = registry.promote(root, 1, 'repair', force=True)
    assert repaired['repaired'] and registry.champion(root)['version'] == 1
    kept = [e for e in (history if isinstance(history, list) else [])
            if isinstance(e, dict) and type(e.get('version')) is int] + [{'version': 2}]
    assert [e['version'] for e in repaired['history']] == [e['version'] for e in kept]


def test_rollback_checks_the_version_it_goes_back_to(tmp_path):
    """Case 8: an earlier champion whose folder is gone, damaged, or holds other content is
    refused, and the record stays as it was."""
    root = str(tmp_path)
    for number in (1, 2):
        _version(tmp_path, number)
    _bless_and_promote(root, 1, 2)
    before = (tmp_path / registry.CHAMPION_FILE).read_text()
    os.rename(tmp_path / '1', tmp_path / 'gone')
    with pytest.raises(ModelError, match='cannot roll back to version 1: .*no version 1'):
        registry.rollback(root, 'r')
    os.rename(tmp_path / 'gone', tmp_path / '1')
    manifest = tmp_path / '1' / schema.MANIFEST_FILE
    manifest.write_text(manifest.read_text().replace('2026-11-01', '2026-11-02'))
    with pytest.raises(ModelError, match='holds other content than when it was champion'):
        registry.rollback(root, 'r')
    assert (tmp_path / registry.CHAMPION_FILE).read_text() == before


def test_a_registry_that_cannot_be_written_is_one_line(tmp_path, monkeypatch):
    """Case 10: checked before any work, and an OSError while promoting is one line."""
    root = str(tmp_path)
    _version(tmp_path, 1)
    registry.check_writable(root)
    monkeypatch.setattr(os, 'access', lambda path, mode: False)
    with pytest.raises(OutputError, match=f'--models {root}: cannot write in {root} '):
        registry.check_writable(root)
    monkeypatch.undo()

    def refused(*args):
        raise PermissionError(13, 'Permission denied')

    monkeypatch.setattr(registry, 'replace_json', refused)
    with pytest.raises(OutputError, match='cannot write the champion record: Permission '
                                          'denied'):
        registry.promote(root, 1, 'r', force=True)
    with pytest.raises(OutputError, match='cannot record the verdict on version 1'):
        registry.record_verdict(root, 1, {'blessed': True})


# --- On an object store (gs://), against fake-gcs-server on 127.0.0.1 -----------------------

GS_BUCKET = 'registry-test'


@pytest.fixture(scope='module')
def store(tmp_path_factory):
    with gcs_emulator.running_with_bucket(tmp_path_factory, GS_BUCKET) as emulator:
        yield emulator


def _promote_many(root: str, times: int, results) -> None:
    try:
        for i in range(times):
            registry.promote(root, 1 + i % 2, f'race {os.getpid()} {i}', force=True)
        results.put('done')
    except BaseException as e:  # noqa: B902 - reported to the test, whatever it is
        results.put(f'{type(e).__name__}: {e}')


@pytest.mark.e2e
def test_on_gs_promotes_at_once_lose_no_champion_and_a_nightly_read_never_mixes_models(store):
    """Two processes promote versions 1 and 2 in turn while this one reads the registry as a
    nightly run does: every read gets one whole version whose content is the one its record
    names; the compare-and-swap loses no promotion (each is in the history); rollback and
    a verdict work there too."""
    from pipeline import model_lookup
    from transforms.beam.inference import model_sha256
    root = f'gs://{GS_BUCKET}/r-{uuid.uuid4().hex[:8]}'
    drive(root, 'v1', registry=True)
    drive(root, 'v2', registry=True)
    assert registry.is_registry(root) and registry.versions(root) == [1, 2]
    assert registry.next_version(root) == 3 and registry.champion(root) is None
    shas = {n: registry.verified(root, n) for n in (1, 2)}
    ctx = multiprocessing.get_context('fork')
    results, times = ctx.Queue(), 8
    writers = [ctx.Process(target=_promote_many, args=(root, times, results)) for _ in range(2)]
    for w in writers:
        w.start()
    reads = 0
    while any(w.is_alive() for w in writers) or reads < 3:
        if registry.champion(root) is None:
            continue
        found = model_lookup.resolve_model(root)
        number = int(found.rsplit('/', 1)[1])
        assert version_content(found) == f'v{number}' and model_sha256(found) == shas[number]
        reads += 1
    assert [results.get(timeout=60) for _ in writers] == ['done', 'done']
    record = registry.champion(root)
    assert len(record['history']) == 2 * times - 1          # no promotion lost
    assert {e['reason'].rsplit(' ', 1)[0] for e in record['history'] + [record]} == {
        f'race {w.pid}' for w in writers}
    assert record[registry.SHA256_KEY] == shas[record['version']]
    back = registry.rollback(root, 'back')
    assert back['version'] == record['history'][-1]['version'] and \
        back['rolled_back_from'] == record['version']
    registry.record_verdict(root, 2, {'blessed': True, 'checks': []})
    assert registry.describe_version(root, 2)['verdict'] == 'blessed'
    assert registry.blessing_problem(root, 2, registry.verdict(root, 2), shas[2]) is None


@pytest.mark.e2e
def test_on_gs_a_damaged_champion_record_is_an_error_that_promote_force_repairs(store):
    from pipeline.runtime import object_store
    root = f'gs://{GS_BUCKET}/r-{uuid.uuid4().hex[:8]}'
    drive(root, 'v1', registry=True)
    object_store.create_new(f'{root}/{registry.CHAMPION_FILE}', b'{"version": "one"')
    with pytest.raises(ModelError, match='not a valid champion record'):
        registry.champion(root)
    record = registry.promote(root, 1, 'repair', force=True)
    assert record['repaired'] == 'not a JSON object' and registry.champion(root)['version'] == 1


@pytest.mark.e2e
def test_on_gs_a_promote_that_read_before_another_writer_changed_the_record_tries_again(
        store, monkeypatch):
    """Writer A reads the record, writer B promotes, then A writes: the compare-and-swap
    refuses A's stale record, and A builds its record again on B's, so B's promotion stays
    in the history (a plain write would lose it)."""
    root = f'gs://{GS_BUCKET}/r-{uuid.uuid4().hex[:8]}'
    for version in ('v1', 'v2', 'v3'):
        drive(root, version, registry=True)
    registry.promote(root, 1, 'first', force=True)
    read, interleaved = registry._read_record, []

    def read_then_another_writer(path):
        found = read(path)
        if not interleaved:
            interleaved.append(True)
            registry.promote(root, 2, 'B, in between', force=True)
        return found

    monkeypatch.setattr(registry, '_read_record', read_then_another_writer)
    record = registry.promote(root, 3, 'A', force=True)
    assert interleaved and record['version'] == 3 and record['previous'] == 2
    assert [(e['version'], e['reason']) for e in record['history']] == [
        (1, 'first'), (2, 'B, in between')]
    assert registry.champion(root) == record
