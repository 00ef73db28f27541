"""score --ratings: star ratings for CSV reviews from a side file, into predictions and metrics."""

import collections
import glob
import json
import os

import pytest

from pipeline import cli
from tests.fixtures import generated_reviews, write_aclimdb, write_csv
from transforms import features
from transforms.ratings import (RATINGS_BY_ID, RATINGS_BY_ROW, check_ratings_file, parse_stars,
                                ratings_layout, with_rating)
from transforms.split import SideFileFormatError

# Stars of rows 1..10 of the test CSV; rows 11 and 12 are not in the ratings file.
STARS = [10, 1, 9, 2, 8, 3, 7, 4, 10, 1]


def _rows(path):
    return [json.loads(line) for f in sorted(glob.glob(path)) for line in open(f, encoding='utf-8')]


def _ratings_file(path, stars=STARS, header='row,movie,rating'):
    lines = [header] + [f'{row},tt{row % 3},{s}' for row, s in enumerate(stars, start=1)]
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def test_ratings_layouts_and_values(tmp_path):
    assert ratings_layout(['row', 'movie', 'rating'], 'train.csv') == RATINGS_BY_ROW
    assert ratings_layout(['id', 'rating'], None) == RATINGS_BY_ID
    with pytest.raises(SideFileFormatError, match='--ratings-for'):
        ratings_layout(['row', 'movie', 'rating'], None)
    with pytest.raises(SideFileFormatError, match='header must start with id,rating'):
        ratings_layout(['row', 'movie'], 'train.csv')  # a grouping file has no rating
    assert parse_stars('7') == 7
    for bad in ('0', '11', '7.5', 'x'):
        with pytest.raises(ValueError, match='from 1 to 10'):
            parse_stars(bad)
    assert check_ratings_file(_ratings_file(tmp_path / 'ok.csv'), 'r.csv') == len(STARS)
    bad = _ratings_file(tmp_path / 'bad.csv', stars=[3, 4, 'ten'])
    with pytest.raises(SideFileFormatError, match=r"line 4: rating 'ten'"):
        check_ratings_file(bad, 'r.csv')


def test_a_review_keeps_its_own_rating_and_unlisted_ones_have_none():
    ratings = {'r.csv:1': 3, 'test/pos/0_8.txt': 1}
    own = {'id': 'test/pos/0_8.txt', 'rating': 8}
    assert with_rating(own, ratings) is own
    assert with_rating({'id': 'r.csv:2', 'rating': None}, ratings)['rating'] is None
    record = {'id': 'r.csv:1', 'rating': None}
    assert with_rating(record, ratings) == {'id': 'r.csv:1', 'rating': 3}
    assert record['rating'] is None  # Beam elements are never changed in place


def test_score_attaches_ratings_to_csv_rows_and_slices_errors_by_them(trained, tmp_path):
    data = write_csv(str(tmp_path / 'r.csv'), generated_reviews(12, seed=11))
    folder = write_aclimdb(str(tmp_path / 'aclImdb'), 'test', generated_reviews(4, seed=12))
    ratings = _ratings_file(tmp_path / 'r_movies.csv')
    out = str(tmp_path / 'out')
    assert cli.main(['score', '--input', data, '--input', folder, '--model', trained['model'],
                     '--output', out, '--ratings', ratings, '--ratings-for', 'r.csv',
                     '--no-explain', '--top-k', '2']) == 0

    by_id = {p['id']: p for p in _rows(os.path.join(out, 'predictions', '*.jsonl'))}
    assert {i: by_id[f'r.csv:{i}'].get('rating') for i in range(1, 13)} == {
        **{i: s for i, s in enumerate(STARS, start=1)}, 11: None, 12: None}
    assert by_id['test/pos/0_8.txt']['rating'] == 8 and by_id['test/neg/1_2.txt']['rating'] == 2

    expected = collections.defaultdict(lambda: [0, 0])
    for p in by_id.values():
        if p.get('rating') is not None:
            expected[str(p['rating'])][0] += 1
            expected[str(p['rating'])][1] += p['label'] != p['predicted']
    m = json.load(open(os.path.join(out, features.METRICS_FILE)))
    got = {k: [v['count'], v['errors']] for k, v in m['error_slices']['rating'].items()}
    assert got == dict(expected)
    assert {k: c for k, (c, _) in got.items()} == {
        '10': 2, '1': 2, '9': 1, '2': 3, '8': 3, '3': 1, '7': 1, '4': 1}

    manifest = json.load(open(os.path.join(out, features.MANIFEST_FILE)))
    assert manifest['options']['ratings'] == ratings
    assert manifest['options']['ratings_for'] == 'r.csv'
    html = open(os.path.join(out, features.REPORT_FILE), encoding='utf-8').read()
    assert 'id="chart-error_by_rating"' in html


@pytest.mark.parametrize('content, extra, message', [
    (None, ['--ratings-for', 'r.csv'], 'no such file'),
    ('review,sentiment\n', [], 'header must start with id,rating or row,movie,rating'),
    ('row,movie,rating\n1,tt1,4\n', [], 'needs --ratings-for'),
    ('row,movie,rating\n1,tt1,4\n2,tt1,11\n', ['--ratings-for', 'r.csv'],
     "line 3: rating '11' is not a whole number from 1 to 10"),
    ('row,movie,rating\nfirst,tt1,4\n', ['--ratings-for', 'r.csv'], "line 2: row 'first'"),
    ('row,movie,rating\n1,tt1,4\n', ['--ratings-for', 'train.csv'],
     '--ratings-for train.csv: no input CSV file has that name (inputs: r.csv)'),
])
def test_bad_ratings_file_is_a_usage_error(trained, tmp_path, capsys, content, extra, message):
    data = write_csv(str(tmp_path / 'r.csv'), generated_reviews(2))
    ratings = tmp_path / 'ratings.csv'
    if content is not None:
        ratings.write_text(content)
    code = cli.main(['score', '--input', data, '--model', trained['model'], '--output',
                     str(tmp_path / 'o'), '--ratings', str(ratings), *extra])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE, err
    assert message in err and 'Traceback' not in err
    assert len(err.strip().splitlines()) == 1
    assert not os.path.exists(tmp_path / 'o')
