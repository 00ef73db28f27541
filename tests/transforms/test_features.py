"""The data's columns, declared once (transforms/features.py), as the stages read them."""

import pytest
from apache_beam.ml.inference.base import PredictionResult

from tests.datasets import write_csv
from transforms import features, schema
from transforms.beam.inputs import read_csv_header
from transforms.beam.read import parse_csv_line
from transforms.beam.scoring import META, to_prediction
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
