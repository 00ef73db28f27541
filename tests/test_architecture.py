"""The package structure: imports point down, and the command line loads TensorFlow (and
Beam) only for the commands that need it: --help loads neither."""

import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ('transforms', 'trainer', 'analysis', 'pipeline')
# Which of our packages each package may import (itself always).
ALLOWED = {'transforms': set(), 'trainer': {'transforms'}, 'analysis': {'transforms'},
           'pipeline': {'transforms', 'trainer', 'analysis'}}


def _imports(path):
    """Every module name a file imports, at module level or inside functions."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module


def _modules(package):
    for folder, _, files in os.walk(os.path.join(ROOT, package)):
        for name in files:
            if name.endswith('.py'):
                yield os.path.join(folder, name)


@pytest.mark.parametrize('package', PACKAGES)
def test_imports_point_down(package):
    wrong = []
    for path in _modules(package):
        for module in _imports(path):
            top = module.split('.')[0]
            if top in PACKAGES and top != package and top not in ALLOWED[package]:
                wrong.append(f'{os.path.relpath(path, ROOT)} imports {module}')
    assert not wrong, wrong


def test_the_checker_sees_a_wrong_import(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text('def f():\n    from pipeline import cli\n')
    assert list(_imports(str(bad))) == ['pipeline']


@pytest.mark.e2e  # a Python process each: too slow for the unit loop
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
