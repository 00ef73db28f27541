"""docs/commands.md is every command's --help as it is now (pipeline.flags.reference writes it)."""

import os

from pipeline.flags import reference
from tests.support.paths import ROOT


def test_commands_md_is_current():
    """A flag or a help text changed without the file rewritten fails here: run
    `.venv/bin/python -m pipeline.flags.reference` and commit docs/commands.md."""
    assert reference.main(['--check']) == 0, (
        'docs/commands.md is out of date: run .venv/bin/python -m pipeline.flags.reference')


def test_the_check_sees_a_stale_file(tmp_path):
    stale = tmp_path / 'commands.md'
    stale.write_text(reference.render().replace('--max-batch-size', '--biggest-batch'))
    assert reference.main(['--check', '--out', str(stale)]) == 1
    assert reference.main(['--out', str(stale)]) == 0
    assert reference.main(['--check', '--out', str(stale)]) == 0


def test_every_command_is_there():
    from pipeline import flags
    with open(os.path.join(ROOT, 'docs', 'commands.md'), encoding='utf-8') as f:
        text = f.read()
    for command in flags.COMMANDS:
        assert f'\n## imdb-sentiment {command}\n' in text
        assert f'usage: imdb-sentiment {command} ' in text
