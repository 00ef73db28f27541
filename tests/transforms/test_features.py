"""The data's columns, declared once (transforms/features.py), as the stages read them; and a
column added by its declaration alone: the optional review ``title`` (pass-through), read where
a CSV file has it, carried into the prediction rows, never fed to the model. (The score and
preprocess jobs carry it end to end: tests/pipeline/jobs/.)"""

import json

import apache_beam as beam
import pytest
from apache_beam.ml.inference.base import ModelHandler, PredictionResult
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tests.support.datasets import write_csv
from transforms import features, schema
from transforms.beam.inputs import read_csv_header, resolve_inputs
from transforms.beam.intake import ReadAndValidate
from transforms.beam.read import parse_csv_line
from transforms.beam.scoring import META, ScoreReviews, to_prediction
from transforms.beam.validate import check, pass_through_value
from transforms.errors import InputError
from transforms.features import Column, Role


def test_the_stages_find_one_id_one_text_and_one_label():
    for role in (Role.ID, Role.TEXT, Role.LABEL):
        assert len([c for c in features.COLUMNS if c.role is role]) == 1, role
    names = [c.name for c in features.COLUMNS]
    assert len(set(names)) == len(names)
    assert len(set(features.CSV_HEADER)) == len(features.CSV_HEADER)
    assert set(features.REQUIRED_CSV) <= set(features.CSV_HEADER)


def test_the_model_reads_the_text_alone_and_never_a_pass_through_column():
    assert features.MODEL_COLUMNS == (features.REVIEW,)
    assert features.PASS_THROUGH_COLUMNS
    assert not set(features.PASS_THROUGH_COLUMNS) & set(features.RAW_COLUMNS)
    assert set(features.PASS_THROUGH_COLUMNS) <= set(features.PREDICTION_COLUMNS)


def test_the_raw_feature_spec_is_one_scalar_of_its_type_per_raw_column():
    import tensorflow as tf
    spec = features.raw_feature_spec()
    assert list(spec) == [schema.ID_KEY, schema.REVIEW_KEY, schema.LABEL_KEY]
    assert [spec[k].dtype for k in spec] == [tf.string, tf.string, tf.int64]
    assert all(list(f.shape) == [] for f in spec.values())


def test_the_header_check_takes_the_declared_columns_and_refuses_others(tmp_path):
    header = features.CSV_HEADER
    row = [{'id': 'r1', 'review': 'Fine.', 'sentiment': 'positive'}.get(h, '') for h in header]
    path = write_csv(str(tmp_path / 'all.csv'), [row], header=header)
    assert read_csv_header(path) == header
    unknown = write_csv(str(tmp_path / 'unknown.csv'), [[*row, 'x']], header=(*header, 'extra'))
    with pytest.raises(InputError, match=r"unexpected columns \['extra'\]"):
        read_csv_header(unknown)
    missing = write_csv(str(tmp_path / 'missing.csv'), [['positive']], header=('sentiment',))
    with pytest.raises(InputError, match='"review" column'):
        read_csv_header(missing)


def test_a_csv_record_holds_every_declared_csv_column_by_name():
    record = parse_csv_line(b'Fine.,pos\n', ('review', 'sentiment'))
    assert {c.name: record[c.name] for c in features.CSV_COLUMNS} == dict(
        {c.name: None for c in features.CSV_COLUMNS}, review='Fine.', label='pos')


@pytest.mark.parametrize('dtype, value, expected', [
    (features.INT64, ' 7 ', 7), (features.INT64, 7, 7), (features.INT64, '', None),
    (features.INT64, None, None), (features.STRING, 'A title', 'A title'),
    (features.STRING, '  ', None)])
def test_a_pass_through_value_takes_its_type(dtype, value, expected):
    assert pass_through_value(Column('x', dtype, Role.PASS_THROUGH), value) == expected


@pytest.mark.parametrize('dtype, value', [
    (features.INT64, 'seven'), (features.INT64, True), (features.STRING, 5)])
def test_a_pass_through_value_of_another_type_is_refused(dtype, value):
    with pytest.raises(ValueError):
        pass_through_value(Column('x', dtype, Role.PASS_THROUGH), value)


def test_validation_sends_a_pass_through_value_of_another_type_to_the_dead_letters():
    record = {'id': 'f:1', 'source': 'f', 'review': 'Fine.', 'label': 'positive',
              schema.RATING_KEY: 'eight'}
    reason, detail = check(record, require_label=True, max_review_chars=100)
    assert reason == schema.REASON_MALFORMED and "rating 'eight' is not int64" == detail


def test_a_prediction_row_carries_the_label_and_the_pass_through_columns_it_has():
    record = {'id': 'f:1', 'source': 'f', 'review': 'Fine.', 'label': 'positive',
              schema.RATING_KEY: 8}
    meta = {k: record.get(k) for k in META}
    row = to_prediction((meta, PredictionResult('Fine.', {'probability': 0.9,
                                                          'label': 'positive'})))
    assert row == {'id': 'f:1', 'probability': 0.9, 'predicted': 'positive',
                   'review': 'Fine.', 'label': 'positive', 'rating': 8}
    unrated = to_prediction((dict(meta, rating=None), PredictionResult('Fine.', {
        'probability': 0.9, 'label': 'positive'})))
    assert schema.RATING_KEY not in unrated


# --- A column added by its declaration alone: the review title

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
