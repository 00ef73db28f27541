import os

import pytest

# Keep TensorFlow's C++ start-up messages out of test output.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

TINY_MODEL = ['--embedding-dim', '8', '--lstm-units', '8', '--dense-units', '8',
              '--batch-size', '16']


@pytest.fixture(scope='session')
def trained(tmp_path_factory):
    """A real preprocess + one-epoch train on 240 generated reviews (about 20 s).

    Shared by the whole session: tests read these folders and write only into copies.
    """
    from pipeline import cli
    from tests.datasets import generated_reviews, write_csv
    root = tmp_path_factory.mktemp('trained')
    rows = generated_reviews(240, seed=1)
    data = write_csv(str(root / 'reviews.csv'), rows)
    pre, model = str(root / 'preprocess'), str(root / 'model')
    assert cli.main(['preprocess', '--input', data, '--output', pre, '--max-tokens', '32']) == 0
    assert cli.main(['train', '--data', pre, '--output', model, '--epochs', '1', *TINY_MODEL]) == 0
    return {'csv': data, 'rows': rows, 'preprocess': pre, 'model': model}


@pytest.fixture()
def user_folder(tmp_path):
    """A user's folder: their reviews and their notes."""
    from tests.datasets import write_csv
    folder = tmp_path / 'v'
    folder.mkdir()
    write_csv(str(folder / 'base.csv'), [('good film', 'positive'), ('bad film', 'negative')])
    (folder / 'notes.txt').write_text('my notes')
    return folder
