"""The optional review ``title`` (a pass-through column, declared in transforms/features.py
alone) through the real jobs: preprocess keeps it with the eval split's raw reviews and out
of the transformed examples; score writes it beside each prediction and never scores it."""

import csv
import glob
import os

import pytest

from pipeline import cli
from tests.datasets import generated_reviews, write_csv
from tests.read import read_jsonl
from transforms import schema

pytestmark = pytest.mark.e2e

TITLE = 'title'


def _titled(path: str, rows) -> str:
    return write_csv(path, [(f'Title {i}', text, label) for i, (text, label) in enumerate(rows)],
                     header=(TITLE, 'review', 'sentiment'))


def test_score_writes_the_title_beside_the_prediction_and_never_scores_it(trained, tmp_path):
    rows = generated_reviews(12, seed=3)
    titled = _titled(str(tmp_path / 'titled.csv'), rows)
    plain = write_csv(str(tmp_path / 'plain.csv'), rows)  # the same reviews, no title column
    out = str(tmp_path / 'score')
    assert cli.main(['score', '--input', titled, '--input', plain, '--model', trained['model'],
                     '--output', out]) == 0
    predictions = read_jsonl(os.path.join(out, schema.PREDICTIONS_DIR, '*.jsonl'))
    by_id = {p['id']: p for p in predictions}
    assert len(by_id) == 2 * len(rows)
    for i in range(len(rows)):
        with_title, without = by_id[f'titled.csv:{i + 1}'], by_id[f'plain.csv:{i + 1}']
        assert with_title[TITLE] == f'Title {i}' and TITLE not in without
        assert with_title['probability'] == pytest.approx(without['probability'], abs=1e-6)


def test_preprocess_keeps_the_title_with_the_eval_reviews_and_out_of_the_examples(tmp_path):
    import tensorflow as tf
    rows = generated_reviews(60, seed=9)
    data = _titled(str(tmp_path / 'reviews.csv'), rows)
    out = str(tmp_path / 'preprocess')
    assert cli.main(['preprocess', '--input', data, '--output', out, '--max-tokens', '16',
                     '--ngram-max', '0', '--eval-fraction', '0.5']) == 0
    evaluated = []
    for path in glob.glob(os.path.join(out, schema.EVAL_REVIEWS_DIR, '*.csv')):
        with open(path, newline='', encoding='utf-8') as f:
            evaluated += list(csv.DictReader(f))
    assert evaluated
    for row in evaluated:
        number = int(row['id'].rsplit(':', 1)[1])
        assert row[TITLE] == f'Title {number - 1}' and row['review'] == rows[number - 1][0]
    record = next(iter(tf.data.TFRecordDataset(
        glob.glob(os.path.join(out, f'{schema.TRAIN_PREFIX}-*')), compression_type='GZIP')))
    example = tf.train.Example.FromString(record.numpy())
    assert TITLE not in example.features.feature
    assert schema.ID_KEY in example.features.feature
