"""The train command's summary: it ends on the headline, never on the eval fit."""

import json
import os

import pytest

from transforms import schema

pytestmark = pytest.mark.e2e


def test_train_ends_on_the_headline_never_on_the_eval_fit(trained):
    from pipeline.jobs.train import summary_line
    manifest = json.load(open(os.path.join(trained['model'], schema.MANIFEST_FILE)))
    line = summary_line(manifest, 'out/model')
    assert line.startswith(f"Accuracy {manifest['headline']['accuracy']:.4f} on the eval "
                           'split, the fusion cross-validated')
    assert 'validation' not in line.lower() and 'training data' in line
    assert f"{manifest['eval_fit']['accuracy']:.4f}" not in line or (
        manifest['eval_fit']['accuracy'] == manifest['headline']['accuracy'])
