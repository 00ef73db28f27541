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


# Every place a command takes a path: S3 is refused before any work, in one line (exit 2).
S3 = 's3://bucket/reviews'
S3_PATHS = [
    ('explore', ['--input', S3, '--output', '{out}'], '--input'),
    ('preprocess', ['--input', 'r.csv', '--output', S3], '--output'),
    ('preprocess', ['--input', 'r.csv', '--output', '{out}', '--movies', S3], '--movies'),
    ('score', ['--input', 'r.csv', '--model', S3, '--output', '{out}'], '--model'),
    ('score', ['--input', 'r.csv', '--model', 'm', '--output', '{out}',
               f'--temp_location={S3}'], f'--temp_location={S3}'),
    ('train', ['--data', S3, '--output', '{out}'], '--data'),
    ('evaluate', ['--candidate', 'm', '--data', S3, '--output', '{out}'], '--data'),
    ('predict', ['--model', 'S3://bucket/model', 'a fine film'], '--model'),
    ('models', ['list', S3], 'REGISTRY'),
    ('run', ['--input', 'r.csv', '--output', '{out}', '--train-flags', f'--data {S3}'],
     '--train-flags'),
]


@pytest.mark.parametrize('command, argv, flag', S3_PATHS)
def test_s3_is_refused_in_one_line_before_any_work(command, argv, flag, tmp_path, capsys):
    from pipeline import cli
    out = tmp_path / 'out'
    with pytest.raises(SystemExit) as stopped:
        cli.main([command, *[a.format(out=out) for a in argv]])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f'imdb-sentiment {command}: error: {flag}')
    assert 'S3 (s3://) is not supported' in err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_a_review_that_mentions_s3_is_text_not_a_path():
    args, _ = flags.parse('predict', ['--model', 'm', 'see s3://bucket for the film'])
    assert args.texts == ['see s3://bucket for the film']


def test_train_refuses_a_whole_bucket_as_a_registry_in_one_line(tmp_path, capsys):
    from pipeline import cli
    with pytest.raises(SystemExit) as stopped:
        cli.main(['train', '--data', str(tmp_path / 'pre'), '--output', 'gs://bucket/',
                  '--registry'])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        'imdb-sentiment train: error: --output gs://bucket/ is a whole bucket; a model '
        'registry is a folder in one, such as gs://bucket/models'], err
    assert not list(tmp_path.iterdir())
    args, _ = flags.parse('train', ['--data', 'gs://bucket/pre', '--output', 'gs://bucket/m',
                                    '--registry'])
    assert args.output == 'gs://bucket/m' and args.registry
