"""Start-up: --help of every command loads neither TensorFlow nor Beam (a process each)."""

import subprocess
import sys

import pytest
from tests.support.paths import ROOT

pytestmark = pytest.mark.e2e



@pytest.mark.parametrize('command', ['score', 'preprocess', 'explore', 'train', 'predict', 'run',
                                     'download'])
def test_help_loads_neither_tensorflow_nor_beam(command):
    code = ('import sys\nfrom pipeline import cli\n'
            'try:\n    cli.main([%r, "--help"])\nexcept SystemExit:\n    pass\n'
            'print(sorted(m for m in sys.modules if m.split(".")[0] in '
            '("tensorflow", "keras", "tensorflow_transform", "apache_beam")))' % command)
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == '[]'
