"""A column added by its declaration alone: the optional review ``title`` (pass-through),
read where a CSV file has it, carried into the prediction rows, never fed to the model."""

import json

import apache_beam as beam
from apache_beam.ml.inference.base import ModelHandler, PredictionResult
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tests.datasets import write_csv
from transforms import features, schema
from transforms.beam.inputs import resolve_inputs
from transforms.beam.intake import ReadAndValidate
from transforms.beam.scoring import ScoreReviews, to_prediction

TITLE = 'title'


class _Length(ModelHandler):
    """A stand-in model: P(positive) grows with the text's length. It sees what the real one
    would, the review text alone, and says so if anything else reaches it."""

    def load_model(self):
        return None

    def run_inference(self, batch, model, inference_args=None):
        for text in batch:
            if not isinstance(text, str):
                raise TypeError(f'the model was given {text!r}')
            yield PredictionResult(text, {'probability': min(len(text) / 100, 1.0),
                                          'label': schema.POSITIVE})


def _inputs(tmp_path):
    titled = write_csv(str(tmp_path / 'titled.csv'), [
        ('r1', 'A fine, long film.', 'positive', 'Fine'),
        ('r2', 'Dull.', 'negative', '  '),            # a blank title is no title
        ('r3', 'Odd, "quoted" film.', 'negative', 'Odd, "quoted"')],
        header=('id', 'review', 'sentiment', TITLE))
    plain = write_csv(str(tmp_path / 'plain.csv'), [('Good.', 'positive')])
    return resolve_inputs([titled, plain])


def test_a_csv_file_may_name_a_title_column_and_another_may_not(tmp_path):
    titled, plain = _inputs(tmp_path)
    assert TITLE in titled.columns and TITLE not in plain.columns
    assert titled.labelled and plain.labelled


def test_the_title_is_read_validated_and_carried_into_the_prediction_rows(tmp_path):
    specs = _inputs(tmp_path)
    with TestPipeline() as p:
        taken = p | ReadAndValidate(specs, require_label=True, max_review_chars=1000)
        scored = taken['accepted'] | ScoreReviews(_Length())
        rows = scored['scored'] | beam.Map(to_prediction)
        assert_that(rows | beam.Map(lambda r: (r['id'], r.get(TITLE), r['review'])), equal_to([
            ('r1', 'Fine', 'A fine, long film.'),
            ('r2', None, 'Dull.'),
            ('r3', 'Odd, "quoted"', 'Odd, "quoted" film.'),
            ('plain.csv:1', None, 'Good.')]), label='Titles')
        # Only a title a record has is written, as label and rating are.
        assert_that(rows | beam.Map(lambda r: json.dumps(sorted(r))), equal_to(
            2 * [json.dumps(sorted(['id', 'probability', 'predicted', 'review', 'label', TITLE]))]
            + 2 * [json.dumps(sorted(['id', 'probability', 'predicted', 'review', 'label']))]
        ), label='Keys')
        assert_that((taken['rejected'], scored['rejected']) | beam.Flatten(), equal_to([]),
                    label='NoneRejected')


def test_the_title_is_never_fed_to_the_model():
    record = {'id': 'r1', 'source': 's', 'review': 'Fine.', 'label': 'positive',
              'rating': None, TITLE: 'Fine'}
    assert TITLE not in features.raw_example(record, 1)
    assert TITLE not in features.raw_feature_spec()
    assert features.MODEL_COLUMNS == (features.REVIEW,)
