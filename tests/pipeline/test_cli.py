"""The command line parsed once: a flag mistake is a usage error (exit 2, one line) before any
work, for every step of run too."""

import os

import pytest

from pipeline import cli
from tests.support.datasets import write_csv


@pytest.mark.parametrize('argv, message', [
    (['explore', '--input', 'x.csv', '--output', 'o', '--date', '2026-11-24'],
     'unrecognized arguments: --date'),            # another job's flag
    (['score', '--input', 'x.csv', '--output', 'o', '--model', 'm', '--vocab-size', '10'],
     'unrecognized arguments: --vocab-size'),
    (['score', '--input', 'x.csv', '--output', 'o', '--model', 'm', '--min-batch-size', '100',
      '--max-batch-size', '10'], '--min-batch-size 100 is larger than --max-batch-size 10'),
    (['preprocess', '--input', 'x.csv', '--output', 'o', '--eval-fraction', '0.6',
      '--test-fraction', '0.6'], 'leave no review to train on'),
    (['train', '--data', 'd', '--output', 'o', '--epochs', '0'], 'epochs must be at least 1'),
])
def test_a_flag_mistake_is_a_usage_error_before_any_work(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and message in err and 'Traceback' not in err


def test_run_checks_every_steps_flags_before_the_first_step(tmp_path, capsys):
    data = write_csv(str(tmp_path / 'r.csv'), [('a fine film', 'positive')] * 4)
    out = tmp_path / 'run'
    with pytest.raises(SystemExit) as stopped:
        cli.main(['run', '--input', data, '--output', str(out), '--epochs', '0'])
    assert stopped.value.code == 2
    assert 'imdb-sentiment train: error: epochs must be at least 1' in capsys.readouterr().err
    assert not os.path.exists(out / 'explore') and not os.path.exists(out / 'preprocess')
