"""The predict command: label and probability per text, and mistakes in one line."""

import io
import sys

import numpy as np
import pytest

from pipeline import cli

pytestmark = pytest.mark.e2e


def test_predict_prints_label_and_probability(trained, monkeypatch, capsys):
    from transforms.beam.inference import Classifier
    texts = ['A wonderful, moving film!', 'Boring and awful. A waste.', 'third from stdin']
    monkeypatch.setattr(sys, 'stdin', io.StringIO(texts[2] + '\n\n'))
    assert cli.main(['predict', '--model', trained['model'], texts[0], texts[1], '-']) == 0
    lines = [l.split('\t') for l in capsys.readouterr().out.strip().splitlines()]
    probabilities, labels = Classifier(trained['model'])(texts)
    assert [l[0] for l in lines] == labels
    np.testing.assert_allclose([float(l[1]) for l in lines], probabilities, atol=1e-4)
    assert lines[2][2] == texts[2]


def test_train_and_predict_report_mistakes_in_one_line(tmp_path, capsys):
    assert cli.main(['train', '--data', str(tmp_path), '--output', str(tmp_path / 'm')]) == 2
    assert cli.main(['predict', '--model', str(tmp_path), 'text']) == 2
    err = capsys.readouterr().err
    assert 'no manifest.json' in err and 'no saved_model.pb' in err and 'Traceback' not in err


def test_predict_with_a_registry_uses_its_champion(trained, tmp_path, capsys):
    import shutil
    from pipeline import registry
    models = tmp_path / 'models'
    shutil.copytree(trained['model'], models / '1')
    registry.promote(str(models), 1, 'the only one', force=True)
    assert cli.main(['predict', '--model', str(models), 'A wonderful film']) == 0
    assert cli.main(['predict', '--model', trained['model'], 'A wonderful film']) == 0
    champion, export = capsys.readouterr().out.strip().splitlines()
    assert champion == export and champion.endswith('A wonderful film')
