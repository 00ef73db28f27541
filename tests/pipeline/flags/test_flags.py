"""flags.parse: a flag the command does not know is argparse's usage error, one line, exit 2."""

import pytest

from pipeline import flags

# The side file's old names (--groups, --ratings), read for one release and then removed.
REMOVED = [('preprocess', ['--input', 'r.csv', '--output', 'out'], '--groups'),
           ('preprocess', ['--input', 'r.csv', '--output', 'out'], '--groups-for'),
           ('run', ['--output', 'out'], '--groups'),
           ('score', ['--input', 'r.csv', '--output', 'out', '--model', 'm'], '--ratings'),
           ('score', ['--input', 'r.csv', '--output', 'out', '--model', 'm'], '--ratings-for')]


@pytest.mark.parametrize('command, argv, flag', REMOVED)
def test_the_removed_side_file_flags_are_unknown(command, argv, flag, capsys):
    with pytest.raises(SystemExit) as stopped:
        flags.parse(command, [*argv, flag, 'movies.csv'])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if not line.startswith((' ', 'usage:'))]
    assert said == [f'imdb-sentiment {command}: error: unrecognized arguments: '
                    f'{flag} movies.csv'], err
