"""Explore's Beam combiners and the review profile, in a pipeline."""

import apache_beam as beam
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that

from analysis import explore_stats as es
from analysis.explore_summary import Histogram, ProfileReviews, SumCounts
from transforms import schema
from transforms.tft.cleaning import CleaningConfig


def test_combiners_and_profile_in_a_pipeline():
    records = [{schema.ID_KEY: f'r{i}', schema.REVIEW_KEY: text, schema.LABEL_KEY: label}
               for i, (text, label) in enumerate([
                   ('Great fun, great cast!', schema.POSITIVE), ('Dull.', schema.NEGATIVE),
                   ('dull.  ', None), ('<b>Great</b> fun', schema.POSITIVE)])]

    def check(pairs):
        parts = dict(pairs)
        assert parts[es.length_part(es.TOKENS, schema.POSITIVE)] == [[2, 1], [5, 1]]
        assert parts[es.length_part(es.CHARS, es.UNLABELED)] == [[7, 1]]
        assert parts[es.PART_DUPLICATES] == [1, 1, 0, 1]   # 'Dull.' and 'dull.  '
        assert parts[es.top_part(es.ALL)][0] == ('great', [3, 0, 0])
        assert parts[es.PART_COUNT_OF_COUNTS] == [[1, 2], [2, 2], [3, 1]]
        assert parts[es.PART_SHORTEST][0]['id'] == 'r1'

    with test_pipeline.TestPipeline() as p:
        numbers = p | 'Numbers' >> beam.Create([3, 1, 3, 3])
        assert_that(numbers | beam.CombineGlobally(Histogram()), lambda h: h == [[[1, 1], [3, 3]]],
                    label='Histogram')
        assert_that(p | 'Counts' >> beam.Create([[1, 2], [3, 4]])
                    | beam.CombineGlobally(SumCounts(2)), lambda c: c == [[4, 6]], label='Sum')
        profile = (p | 'Records' >> beam.Create(records)
                   | ProfileReviews(CleaningConfig(), top_words=5))
        assert_that(profile, check, label='Profile')
