"""docs/commands.md is every command's --help as it is now (docs/make_commands.py writes it)."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _generator():
    path = os.path.join(ROOT, 'docs', 'make_commands.py')
    spec = importlib.util.spec_from_file_location('make_commands', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_commands_md_is_current():
    """A flag or a help text changed without the file rewritten fails here: run
    `.venv/bin/python docs/make_commands.py` and commit docs/commands.md."""
    assert _generator().main(['--check']) == 0, (
        'docs/commands.md is out of date: run .venv/bin/python docs/make_commands.py')


def test_the_check_sees_a_stale_file(tmp_path):
    generator = _generator()
    stale = tmp_path / 'commands.md'
    stale.write_text(generator.render().replace('--max-batch-size', '--biggest-batch'))
    assert generator.main(['--check', '--out', str(stale)]) == 1
    assert generator.main(['--out', str(stale)]) == 0
    assert generator.main(['--check', '--out', str(stale)]) == 0


def test_every_command_is_there():
    from pipeline import flags
    with open(os.path.join(ROOT, 'docs', 'commands.md'), encoding='utf-8') as f:
        text = f.read()
    for command in flags.COMMANDS:
        assert f'\n## imdb-sentiment {command}\n' in text
        assert f'usage: imdb-sentiment {command} ' in text
