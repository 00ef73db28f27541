"""The deterministic hash split: train, eval and the test split (held out by the same hash as
eval, next to it, and never used for a choice), duplicates and movies kept on one side."""

import ast
import os

import pytest

from pipeline.jobs.run import _movies_flags
from tests.support.datasets import generated_reviews
from transforms.beam.split import EVAL, TEST, TRAIN, is_eval, normalized_text, side
from transforms.errors import InputError
from tests.support.paths import ROOT

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
    """trainer/ reads splits by the names in schema; the test split's are not among them."""
    named = set()
    for path in _python_sources('trainer'):
        with open(path, encoding='utf-8') as f:
            for node in ast.walk(ast.parse(f.read())):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                        and node.value.id == 'schema':
                    named.add(node.attr)
    assert {'TRAIN_PREFIX', 'EVAL_PREFIX'} <= named  # the check sees what it looks for
    assert not named & {'TEST_PREFIX', 'TEST_REVIEWS_DIR'}


def test_run_gives_the_movies_file_to_preprocess_and_score(tmp_path):
    movies = tmp_path / 'train_movies.csv'
    movies.write_text('row,movie,rating\n1,tt1,4\n2,tt2,9\n3,tt1,\n')

    class Args:
        input = [str(tmp_path / 'train.csv')]
    Args.movies = str(movies)
    split_by, rate_by = _movies_flags(Args)
    # The held-out splits keep the input's ids (train.csv:<row>): score reads the same file.
    assert split_by == rate_by == {'movies': str(movies), 'movies_for': 'train.csv'}
    movies.write_text('id,group\ntrain.csv:1,tt1\n')
    assert _movies_flags(Args) == ({'movies': str(movies), 'movies_for': None}, {})
    Args.input = [str(tmp_path / 'a.csv'), str(tmp_path / 'b.csv')]
    movies.write_text('row,movie,rating\n1,tt1,4\n')
    with pytest.raises(InputError, match='exactly one --input CSV'):
        _movies_flags(Args)


def test_duplicates_after_normalization_land_on_the_same_side():
    for text, _ in generated_reviews(300):
        variants = [text, text.upper(), f'  {text}\n', text.replace(' ', '   '),
                    text.replace('<br /><br />', '<br/>')]
        assert len({normalized_text(v) for v in variants}) == 1
        assert len({is_eval(v, 0.2) for v in variants}) == 1


def test_split_share_is_close_to_the_fraction():
    texts = [f'review number {i}' for i in range(20000)]
    share = sum(is_eval(t, 0.2) for t in texts) / len(texts)
    assert 0.19 < share < 0.21
    assert not any(is_eval(t, 0.0) for t in texts[:100])


def test_a_group_decides_the_side_and_unknown_reviews_fall_back_to_the_text():
    texts = [f'review number {i}' for i in range(400)]
    for group in ('tt001', 'tt002', 'tt003'):
        assert len({is_eval(t, 0.5, group) for t in texts}) == 1
    sides = {is_eval(t, 0.5, f'tt{i}') for i, t in enumerate(texts)}
    assert sides == {True, False}
    assert [is_eval(t, 0.5, None) for t in texts] == [is_eval(t, 0.5) for t in texts]


def test_split_pipeline_keeps_each_group_on_one_side(tmp_path):
    """A real pipeline: the groups file is a side input; reviews of one movie stay together."""
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that
    from transforms.beam import movies
    from transforms.beam.split import SplitTrainEval
    groups = tmp_path / 'movies.csv'
    groups.write_text('row,movie,rating\n' + ''.join(
        f'{i},tt{i % 6},{1 + i % 10}\n' for i in range(1, 121)))
    records = [{'id': f'r.csv:{i}', 'review': f'distinct review {i}', 'label': 'positive'}
               for i in range(1, 141)]  # rows 121..140 have no group: split by their text

    def sides_by_group(side):
        def check(got):
            ids = {r['id'] for r in got}
            for m in range(6):
                members = {f'r.csv:{i}' for i in range(1, 121) if i % 6 == m}
                assert members <= ids or not members & ids, (side, m)
            ungrouped = {f'r.csv:{i}' for i in range(121, 141)
                         if is_eval(f'distinct review {i}', 0.5) == (side == 'eval')}
            assert {i for i in ids if int(i.split(':')[1]) > 120} == ungrouped
        return check

    with TestPipeline() as p:
        pairs = movies.groups(p | 'Movies' >> movies.ReadMovies(str(groups), 'r.csv'))
        train, evaluation, _ = (p | beam.Create(records)) | SplitTrainEval(0.5, pairs)
        assert_that(train, sides_by_group('train'), label='CheckTrain')
        assert_that(evaluation, sides_by_group('eval'), label='CheckEval')


def test_every_unicode_space_collapses_as_the_regex_does():
    """The split key's whitespace rule is the regex \\s's (a review must not change side
    when the code that normalizes it does)."""
    import re
    spaces = ''.join(chr(c) for c in range(0x110000) if re.match(r'\s', chr(c)))
    assert len(spaces) > 20
    for text in (spaces, f'A{spaces}b<br />C{spaces}', f'{spaces}x\u00a0y\u2028z{spaces}', ''):
        assert normalized_text(text) == re.sub(r'\s+', ' ', re.sub(
            r'<[^>]*>', ' ', text.lower())).strip()
