"""`imdb-sentiment models`: what a user sees when a registry or its champion record is
broken: one line and exit 2, never a traceback, and the command that repairs it."""

import json
import os

from pipeline import cli, registry
from tests.support.model_versions import write_version


def _registry(tmp_path, *numbers):
    root = str(tmp_path / 'models')
    for number in numbers:
        write_version(root, number)
        registry.record_verdict(root, number, {'blessed': True, 'checks': []})
        assert cli.main(['models', 'promote', root, str(number), '--reason', f'v{number}']) == 0
    return root


def _one_line(capsys, code, expected):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith('imdb-sentiment models')]
    assert code == 2 and len(lines) == 1 and 'Traceback' not in err, err
    assert expected in lines[0], lines[0]
    return lines[0]


def _set_history(root, history):
    file = os.path.join(root, registry.CHAMPION_FILE)
    record = json.load(open(file))
    json.dump(dict(record, history=history), open(file, 'w'))


def test_a_malformed_history_is_one_line_and_promote_repairs_it(tmp_path, capsys):
    """Case 7 (a history of strings: TypeError before) and case 8 (a version named
    '../../x': every command failed, promote included)."""
    root = _registry(tmp_path, 1, 2)
    for history in (['a', 'b'], [{'version': '../../x'}], {'version': 1}):
        _set_history(root, history)
        capsys.readouterr()
        for argv in (['list', root], ['rollback', root]):
            line = _one_line(capsys, cli.main(['models', *argv]),
                             os.path.join(root, registry.CHAMPION_FILE))
            assert f'models promote {root} VERSION --force --reason' in line
        assert cli.main(['models', 'promote', root, '1', '--force', '--reason', 'repair']) == 0
        out = capsys.readouterr().out
        assert 'the champion record was not valid' in out and 'champion: version 1' in out
        assert cli.main(['models', 'list', root]) == 0


def test_rollback_to_a_version_that_is_gone_is_refused(tmp_path, capsys):
    """Case 8: it exited 0 and named a missing version as the champion."""
    root = _registry(tmp_path, 1, 2)
    os.rename(os.path.join(root, '1'), os.path.join(root, 'moved'))
    _one_line(capsys, cli.main(['models', 'rollback', root]),
              'cannot roll back to version 1')
    assert registry.champion(root)['version'] == 2


def test_promote_force_refuses_truncated_variables(tmp_path, capsys):
    """Case 9: the next night would have exited 2."""
    root = _registry(tmp_path, 1)
    write_version(root, 2)
    data = os.path.join(root, '2', 'variables', 'variables.data-00000-of-00001')
    with open(data, 'r+b') as f:
        f.truncate(2)
    _one_line(capsys, cli.main(['models', 'promote', root, '2', '--force', '--reason', 'x']),
              'version 2 does not verify')
    assert registry.champion(root)['version'] == 1


def test_a_registry_that_cannot_be_written_is_one_line(tmp_path, capsys, monkeypatch):
    """Case 10: promote ended with a PermissionError traceback (exit 1)."""
    root = _registry(tmp_path, 1, 2)

    def refused(*args):
        raise PermissionError(13, 'Permission denied', args[0])

    monkeypatch.setattr(registry, 'replace_json', refused)
    for argv in (['promote', root, '1', '--force', '--reason', 'x'], ['rollback', root]):
        _one_line(capsys, cli.main(['models', *argv]),
                  'cannot write the champion record: Permission denied')
    assert registry.champion(root)['version'] == 2


def test_list_counts_versions_only(tmp_path, capsys):
    """Case 11: what a killed writer left is not a version."""
    root = _registry(tmp_path, 1)
    os.makedirs(os.path.join(root, 'new-0123abcd.partial-89abcdef'))
    open(os.path.join(root, 'new-0123abcd.lock'), 'w').close()
    os.makedirs(os.path.join(root, '2.partial-0123abcd'))
    capsys.readouterr()
    assert cli.main(['models', 'list', root]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert [r[0] for r in rows if r[0].isdigit()] == ['1']
