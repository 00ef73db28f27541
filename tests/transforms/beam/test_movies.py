"""score --movies: star ratings for CSV reviews from the movies side file, into predictions and
metrics; the file's layouts."""

import collections
import os

import pytest

from tests.support.read import read_json, read_jsonl
from pipeline import cli
from tests.support.datasets import generated_reviews, write_aclimdb, write_csv
from transforms import schema
from transforms.beam.movies import (Layout, Movie, MoviesFormatError, check_movies_file, layout,
                                    parse_line, parse_stars, with_rating)

pytestmark = pytest.mark.e2e

# Stars of rows 1..10 of the test CSV; rows 11 and 12 are not in the ratings file.
STARS = [10, 1, 9, 2, 8, 3, 7, 4, 10, 1]


_rows = read_jsonl


def _ratings_file(path, stars=STARS, header='row,movie,rating'):
    lines = [header] + [f'{row},tt{row % 3},{s}' for row, s in enumerate(stars, start=1)]
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def test_movies_file_layouts_and_values(tmp_path):
    assert layout(['row', 'movie', 'rating'], 'train.csv') == Layout(True, 1, 2)
    assert layout(['id', 'rating'], None) == Layout(False, None, 1)
    assert layout(['id', 'group'], None) == Layout(False, 1, None)
    assert layout(['Row', ' Movie'], 'r.csv') == Layout(True, 1, None)
    with pytest.raises(MoviesFormatError, match='--movies-for'):
        layout(['row', 'movie', 'rating'], None)
    with pytest.raises(MoviesFormatError, match='must start with id or row'):
        layout(['review', 'sentiment'], None)
    with pytest.raises(MoviesFormatError, match='neither a movie'):
        layout(['id', 'stars'], None)
    rows = layout(['row', 'movie', 'rating'], 'r.csv')
    assert list(parse_line('7,tt1,9\n', rows, 'r.csv')) == [('r.csv:7', Movie('tt1', 9))]
    assert list(parse_line('8,tt1,\n', rows, 'r.csv')) == [('r.csv:8', Movie('tt1', None))]
    assert list(parse_line('9,,\n', rows, 'r.csv')) == []   # nothing known of it
    assert list(parse_line('\n', rows, 'r.csv')) == []
    assert parse_stars('7') == 7
    for bad in ('0', '11', '7.5', 'x'):
        with pytest.raises(ValueError, match='from 1 to 10'):
            parse_stars(bad)
    assert check_movies_file(_ratings_file(tmp_path / 'ok.csv'), 'r.csv')[1] == len(STARS)
    bad = _ratings_file(tmp_path / 'bad.csv', stars=[3, 4, 'ten'])
    with pytest.raises(MoviesFormatError, match=r"line 4: rating 'ten'"):
        check_movies_file(bad, 'r.csv')


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
                     '--output', out, '--movies', ratings, '--movies-for', 'r.csv',
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
    m = read_json(os.path.join(out, schema.METRICS_FILE))
    got = {k: [v['count'], v['errors']] for k, v in m['error_slices']['rating'].items()}
    assert got == dict(expected)
    assert {k: c for k, (c, _) in got.items()} == {
        '10': 2, '1': 2, '9': 1, '2': 3, '8': 3, '3': 1, '7': 1, '4': 1}

    manifest = read_json(os.path.join(out, schema.MANIFEST_FILE))
    assert manifest['options']['movies'] == ratings
    assert manifest['options']['movies_for'] == 'r.csv'
    html = open(os.path.join(out, schema.REPORT_FILE), encoding='utf-8').read()
    assert 'id="chart-error_by_rating"' in html


@pytest.mark.parametrize('content, extra, message', [
    (None, ['--movies-for', 'r.csv'], 'no such file'),
    ('review,sentiment\n', [], 'header must start with id or row'),
    ('row,movie,rating\n1,tt1,4\n', [], 'needs --movies-for'),
    ('row,movie\n1,tt1\n', ['--movies-for', 'r.csv'], 'no rating column'),
    ('row,movie,rating\n1,tt1,4\n2,tt1,11\n', ['--movies-for', 'r.csv'],
     "line 3: rating '11' is not a whole number from 1 to 10"),
    ('row,movie,rating\nfirst,tt1,4\n', ['--movies-for', 'r.csv'], "line 2: row 'first'"),
    ('row,movie,rating\n1,tt1,4\n', ['--movies-for', 'train.csv'],
     '--movies-for train.csv: no input CSV file has that name (inputs: r.csv)'),
])
def test_bad_ratings_file_is_a_usage_error(trained, tmp_path, capsys, content, extra, message):
    data = write_csv(str(tmp_path / 'r.csv'), generated_reviews(2))
    ratings = tmp_path / 'ratings.csv'
    if content is not None:
        ratings.write_text(content)
    code = cli.main(['score', '--input', data, '--model', trained['model'], '--output',
                     str(tmp_path / 'o'), '--movies', str(ratings), *extra])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE, err
    assert message in err and 'Traceback' not in err
    assert len(err.strip().splitlines()) == 1
    assert not os.path.exists(tmp_path / 'o')
