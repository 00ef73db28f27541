"""The deterministic hash split, and staged publishing of outputs."""

import os

import pytest

from transforms.outputs import StagedOutput
from tests.fixtures import generated_reviews
from transforms.split import is_eval, normalized_text


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


def test_failed_run_leaves_nothing_and_keeps_the_previous_result(tmp_path):
    final = str(tmp_path / 'out')
    with StagedOutput(final) as out:
        open(os.path.join(out.path, 'a.txt'), 'w').write('first')
        out.publish()
    with pytest.raises(RuntimeError):
        with StagedOutput(final) as out:
            open(os.path.join(out.path, 'a.txt'), 'w').write('half')
            raise RuntimeError('interrupted')
    assert sorted(os.listdir(tmp_path)) == ['out']
    assert open(os.path.join(final, 'a.txt')).read() == 'first'
    with StagedOutput(final) as out:
        open(os.path.join(out.path, 'b.txt'), 'w').write('second')
        out.publish()
    assert os.listdir(final) == ['b.txt'] and sorted(os.listdir(tmp_path)) == ['out']


def test_a_group_decides_the_side_and_unknown_reviews_fall_back_to_the_text():
    texts = [f'review number {i}' for i in range(400)]
    for group in ('tt001', 'tt002', 'tt003'):
        assert len({is_eval(t, 0.5, group) for t in texts}) == 1
    sides = {is_eval(t, 0.5, f'tt{i}') for i, t in enumerate(texts)}
    assert sides == {True, False}
    assert [is_eval(t, 0.5, None) for t in texts] == [is_eval(t, 0.5) for t in texts]


def test_grouping_file_layouts():
    from transforms.split import (GROUPS_BY_ID, GROUPS_BY_ROW, GroupsFormatError,
                                  groups_layout, parse_side_line)
    assert groups_layout(['id', 'group'], None) == GROUPS_BY_ID
    assert groups_layout(['row', 'movie', 'rating'], 'train.csv') == GROUPS_BY_ROW
    with pytest.raises(GroupsFormatError, match='--groups-for'):
        groups_layout(['row', 'movie', 'rating'], None)
    with pytest.raises(GroupsFormatError, match='header'):
        groups_layout(['review', 'sentiment'], None)
    assert list(parse_side_line('7,tt0098994,4', GROUPS_BY_ROW, 'train.csv')) == [
        ('train.csv:7', 'tt0098994')]
    assert list(parse_side_line('"a.csv:3",m1', GROUPS_BY_ID, None)) == [('a.csv:3', 'm1')]
    assert list(parse_side_line('', GROUPS_BY_ID, None)) == []


def test_split_pipeline_keeps_each_group_on_one_side(tmp_path):
    """A real pipeline: the groups file is a side input; reviews of one movie stay together."""
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that
    from transforms.split import ReadGroups, SplitTrainEval
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
        pairs = p | 'Groups' >> ReadGroups(str(groups), 'r.csv')
        train, evaluation, _ = (p | beam.Create(records)) | SplitTrainEval(0.5, pairs)
        assert_that(train, sides_by_group('train'), label='CheckTrain')
        assert_that(evaluation, sides_by_group('eval'), label='CheckEval')
