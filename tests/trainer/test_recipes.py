"""Training recipes: distillation teaches the LSTM from pseudo-labelled unlabeled reviews."""

import json
import os

import numpy as np
import pytest

from pipeline import cli
from transforms import schema

pytestmark = pytest.mark.e2e


def test_distillation_teaches_the_lstm_from_pseudo_labelled_unlabeled_reviews(tmp_path):
    from tests.support.processes import TINY_MODEL
    from tests.support.datasets import generated_reviews, write_csv
    labelled = write_csv(str(tmp_path / 'l.csv'), generated_reviews(160, seed=5))
    unlabeled_rows = generated_reviews(90, seed=6)
    unlabeled = write_csv(str(tmp_path / 'u.csv'), [(t,) for t, _ in unlabeled_rows],
                          header=('review',))
    pre, model = str(tmp_path / 'pre'), str(tmp_path / 'model')
    assert cli.main(['preprocess', '--input', labelled, '--unlabeled', unlabeled,
                     '--output', pre, '--max-tokens', '32']) == 0
    assert cli.main(['train', '--data', pre, '--output', model, '--epochs', '1',
                     '--distill-unlabeled', *TINY_MODEL]) == 0
    manifest = json.load(open(os.path.join(model, schema.MANIFEST_FILE)))
    distilled = manifest['stacking']['distillation']
    assert distilled['unlabeled_reviews'] == 90
    # The generated reviews carry their sentiment in their words: the n-gram regression's
    # labels for them follow the true ones.
    truth = np.mean([label == 'positive' for _, label in unlabeled_rows])
    assert abs(distilled['pseudo_positive_share'] - truth) < 0.2
    assert len(manifest['history']['loss']) == 1
