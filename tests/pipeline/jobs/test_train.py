"""The train command: its summary ends on the headline, never on the eval fit; and into a
model registry, a new version each time, never one written again."""

import json
import os
import subprocess
import sys

import pytest

from pipeline import cli, registry
from tests.support.paths import ROOT
from tests.support.processes import TINY_MODEL
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


def _err_line(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith('imdb-sentiment train')]
    assert len(lines) == 1 and 'Traceback' not in err, err
    return lines[0]


def test_train_never_writes_into_a_version(trained, tmp_path, capsys):
    """Case 5: `train --output REG/1` replaced the champion's files in place (exit 0) and the
    old blessing stayed with them. Now it is refused before any work, as is any --output
    inside a version, and --registry writes a new version beside it."""
    models = str(tmp_path / 'models')
    assert cli.main(['train', '--data', trained['preprocess'], '--output', models,
                     '--registry', '--epochs', '1', *TINY_MODEL]) == 0
    registry.record_verdict(models, 1, {'blessed': True, 'checks': []})
    assert cli.main(['models', 'promote', models, '1', '--reason', 'first']) == 0
    before = registry.content_sha256(models, 1)
    for output in ('1', os.path.join('1', 'retrained')):
        code = cli.main(['train', '--data', trained['preprocess'], '--output',
                         os.path.join(models, output), '--epochs', '1', *TINY_MODEL])
        assert code == 2 and 'a version is never written again' in _err_line(capsys)
    assert registry.content_sha256(models, 1) == before
    assert registry.champion(models)[registry.SHA256_KEY] == before
    assert sorted(os.listdir(models)) == ['1', 'blessings', 'champion.json']


_TRAIN = r'''
import sys
sys.path.insert(0, sys.argv[1])
from pipeline import cli
sys.exit(cli.main(['train', '--data', sys.argv[2], '--output', sys.argv[3], '--registry',
                   '--epochs', '1', *sys.argv[4:]]))
'''


def test_two_trainings_into_one_registry_at_once_get_two_versions(trained, tmp_path):
    """Case 6 with the real job: both exit 0, each with its own version, and both survive."""
    models = str(tmp_path / 'models')
    procs = [subprocess.Popen([sys.executable, '-c', _TRAIN, ROOT, trained['preprocess'],
                               models, *TINY_MODEL], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    ends = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[1][-2000:] for e in ends]
    assert registry.versions(models) == [1, 2]
    said = sorted(e[1].split('model in ')[-1].split()[0].rstrip('.') for e in ends)
    assert said == [os.path.join(models, '1'), os.path.join(models, '2')]
    for number in (1, 2):
        assert registry.verified(models, number)
    assert sorted(os.listdir(models)) == ['1', '2']
