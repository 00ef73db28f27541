"""The test split: held out by the same hash as eval, next to it, and never used for a choice."""

import ast
import csv
import glob
import os

import pytest

from pipeline import cli
from pipeline.run import _side_file_flags, _write_ratings
from tests.fixtures import generated_reviews, write_csv
from transforms import features
from transforms.split import EVAL, TEST, TRAIN, is_eval, side

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXTS = [f'review number {i} about a film' for i in range(3000)]


def test_three_sides_in_the_expected_shares_and_eval_unchanged_by_a_test_split():
    sides = [side(t, 0.2, 0.1) for t in TEXTS]
    shares = {s: sides.count(s) / len(TEXTS) for s in (TRAIN, EVAL, TEST)}
    assert shares[EVAL] == pytest.approx(0.2, abs=0.03)
    assert shares[TEST] == pytest.approx(0.1, abs=0.03)
    # Adding a test split never moves a review into or out of eval.
    assert [s == EVAL for s in sides] == [is_eval(t, 0.2) for t in TEXTS]
    assert all(side(t, 0.2, 0.0) != TEST for t in TEXTS)


def test_a_group_lands_whole_in_one_split():
    for group in (f'tt{i}' for i in range(200)):
        assert len({side(t, 0.2, 0.1, group) for t in TEXTS[:20]}) == 1
    assert {side(t, 0.2, 0.1, f'tt{i}') for i, t in enumerate(TEXTS[:500])} == {TRAIN, EVAL, TEST}


def _python_sources(package):
    for folder, _, files in os.walk(os.path.join(ROOT, package)):
        yield from (os.path.join(folder, f) for f in files if f.endswith('.py'))


def test_the_trainer_never_names_the_test_split():
    """trainer/ reads splits by the names in features; the test split's are not among them."""
    named = set()
    for path in _python_sources('trainer'):
        with open(path, encoding='utf-8') as f:
            for node in ast.walk(ast.parse(f.read())):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                        and node.value.id == 'features':
                    named.add(node.attr)
    assert {'TRAIN_PREFIX', 'EVAL_PREFIX'} <= named  # the check sees what it looks for
    assert not named & {'TEST_PREFIX', 'TEST_REVIEWS_DIR'}


def test_run_groups_flags_for_a_row_movie_rating_file(tmp_path):
    groups = tmp_path / 'train_movies.csv'
    groups.write_text('row,movie,rating\n1,tt1,4\n2,tt2,9\n3,tt1,\n')

    class Args:
        input = [str(tmp_path / 'train.csv')]
    Args.groups = str(groups)
    pre, score = _side_file_flags(Args, str(tmp_path / 'run'))
    assert pre == ['--groups', str(groups), '--groups-for', 'train.csv']
    assert score == ['--ratings', str(tmp_path / 'run' / features.RUN_RATINGS_FILE)]
    os.makedirs(tmp_path / 'run')
    _write_ratings(str(groups), 'train.csv', score[1])
    with open(score[1], newline='') as f:
        assert list(csv.reader(f)) == [['id', 'rating'], ['train.csv:1', '4'],
                                       ['train.csv:2', '9']]


def _ids(pattern):
    ids = []
    for path in glob.glob(pattern):
        with open(path, newline='', encoding='utf-8') as f:
            ids += [row[features.ID_KEY] for row in csv.DictReader(f)]
    return ids


@pytest.mark.e2e
def test_preprocess_writes_the_test_split_as_raw_reviews_only(tmp_path):
    import tensorflow as tf
    rows = generated_reviews(300, seed=5)
    data = write_csv(str(tmp_path / 'reviews.csv'), rows)
    out = str(tmp_path / 'pre')
    assert cli.main(['preprocess', '--input', data, '--output', out, '--max-tokens', '16',
                     '--test-fraction', '0.2']) == 0
    test_ids = _ids(os.path.join(out, features.TEST_REVIEWS_DIR, f'{features.TEST_PREFIX}-*.csv'))
    eval_ids = _ids(os.path.join(out, features.EVAL_REVIEWS_DIR, f'{features.EVAL_PREFIX}-*.csv'))
    transformed = set()
    for path in glob.glob(os.path.join(out, '*' + features.TFRECORD_SUFFIX)):
        for record in tf.data.TFRecordDataset(path, compression_type='GZIP'):
            example = tf.train.Example.FromString(record.numpy())
            transformed.add(example.features.feature[features.ID_KEY].bytes_list.value[0].decode())
    assert test_ids and eval_ids
    assert not set(test_ids) & set(eval_ids)
    assert not set(test_ids) & transformed  # not trained on, not early-stopped or fused on
    assert set(eval_ids) <= transformed
    assert len(test_ids) + len(transformed) == len(rows)
    assert not glob.glob(os.path.join(out, f'{features.TEST_PREFIX}-*'))
    from transforms import outputs
    manifest = outputs.read_json(os.path.join(out, features.MANIFEST_FILE))
    assert manifest['counts'][features.TEST_PREFIX] == len(test_ids)
    assert manifest['counts']['train'] + manifest['counts']['eval'] == len(transformed)
