"""The package structure: imports point down, and the command line loads TensorFlow (and
Beam) only for the commands that need it: --help loads neither."""

import ast
import os

import pytest

from tests.support.paths import ROOT

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




# --- Where code goes: transforms/ runs inside a pipeline or a graph, never the process -------

# What belongs to the launching process (pipeline/): signals, fd 2, threads, locks on files,
# exit hooks, and publishing an output by renaming it.
PROCESS_MODULES = {'signal', 'fcntl', 'atexit'}
PROCESS_CALLS = {('threading', 'Thread'), ('os', 'dup'), ('os', 'dup2'), ('os', 'rename'),
                 ('os', 'replace'), ('os', 'renames'), ('shutil', 'move'),
                 ('FileSystems', 'rename'), ('sys', 'exit')}


def _process_concerns(path):
    """(line, what) for every process-level concern a file touches."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [
                node.module or '']
            for name in names:
                if name.split('.')[0] in PROCESS_MODULES:
                    yield node.lineno, f'imports {name}'
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in PROCESS_CALLS:
                yield node.lineno, f'{node.value.id}.{node.attr}'
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                        and (target.value.id, target.attr) == ('sys', 'stderr'):
                    yield node.lineno, 'replaces sys.stderr'


def test_transforms_touch_no_process_level_concern():
    found = [f'{os.path.relpath(path, ROOT)}:{line} {what}'
             for path in _modules('transforms') for line, what in _process_concerns(path)]
    assert not found, found


def test_the_process_checker_sees_each_concern(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text('import signal\nimport os, sys, threading\nfrom fcntl import flock\n'
                   'threading.Thread(target=print)\nos.dup2(1, 2)\nos.rename("a", "b")\n'
                   'sys.stderr = None\n')
    assert sorted(what for _, what in _process_concerns(str(bad))) == [
        'imports fcntl', 'imports signal', 'os.dup2', 'os.rename', 'replaces sys.stderr',
        'threading.Thread']


# --- One route per job: every command line is parsed once, in one place -------------------

def _calls(path):
    """Every call in a file as 'name' or 'object.name'."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                yield f'{func.value.id}.{func.attr}'
            elif isinstance(func, ast.Attribute):
                yield func.attr
            elif isinstance(func, ast.Name):
                yield func.id


PARSING = ('parse_args', 'parse_known_args', 'ArgumentParser', 'PipelineOptions')


def _parses(path):
    """(calls of flags.parse for the module's own command, NAME; other parsing calls).

    ``run`` also parses the command lines of its steps (flags.parse(step.command, ...))."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    own = sum(1 for node in ast.walk(tree) if isinstance(node, ast.Call)
              and isinstance(node.func, ast.Attribute) and node.func.attr == 'parse'
              and isinstance(node.func.value, ast.Name) and node.func.value.id == 'flags'
              and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == 'NAME')
    return own, [c for c in _calls(path) if c.split('.')[-1] in PARSING]


def test_every_command_parses_its_command_line_once_through_flags():
    from pipeline import flags
    for command in flags.COMMANDS:
        once, elsewhere = _parses(os.path.join(ROOT, 'pipeline', 'jobs', f'{command}.py'))
        assert once == 1 and not elsewhere, (command, once, elsewhere)
    # The Beam jobs' options are built in one place, from what flags.parse left over.
    options = [c for p in _modules('pipeline') for c in _calls(p) if c == 'PipelineOptions']
    assert options == ['PipelineOptions']


def test_the_parse_checker_sees_a_second_parse(tmp_path):
    bad = tmp_path / 'job.py'
    bad.write_text('def run(argv):\n    a, b = flags.parse(NAME, argv)\n'
                   '    flags.parse(NAME, argv), flags.parse(step.command, argv)\n'
                   '    return PipelineOptions(argv), parser.parse_known_args(argv)\n')
    assert _parses(str(bad)) == (2, ['PipelineOptions', 'parser.parse_known_args'])


def test_the_trainer_finds_no_layer_by_name():
    found = [f'{os.path.relpath(p, ROOT)}' for p in _modules('trainer')
             if 'get_layer' in list(_calls(p)) or any(c.endswith('.get_layer')
                                                         for c in _calls(p))]
    assert not found, found


# --- Test markers: one mechanism, a module's pytestmark (and e2e on a slow test) -------------

MARKS = ('e2e', 'browser', 'airflow', 'cluster')


def _is_mark(node, names=MARKS) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in names and isinstance(
        node.value, ast.Attribute) and node.value.attr == 'mark'


def _module_marks(tree):
    """The marks a module's ``pytestmark`` names, the tests marked e2e on their own (a slow
    test in a fast module), and the marks it puts anywhere else."""
    in_pytestmark, allowed = set(), set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == 'pytestmark' for t in node.targets):
            for sub in ast.walk(node.value):
                allowed.add(id(sub))
                if isinstance(sub, ast.Attribute) and sub.attr in MARKS:
                    in_pytestmark.add(sub.attr)
    own_e2e = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith('test'):
            for decorator in node.decorator_list:
                if _is_mark(decorator, ('e2e',)):
                    own_e2e.add(node.name)
                    allowed.add(id(decorator))
    elsewhere = [f'line {node.lineno}: {node.attr}' for node in ast.walk(tree)
                 if _is_mark(node) and id(node) not in allowed]
    return in_pytestmark, own_e2e, elsewhere


def _marks_problems(path):
    with open(path, encoding='utf-8') as f:
        source = f.read()
    tree = ast.parse(source, path)
    marks, own_e2e, elsewhere = _module_marks(tree)
    problems = [f'mark outside pytestmark ({e})' for e in elsewhere]
    tests = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith('test')]
    if any('trained' in [a.arg for a in t.args.args] and 'e2e' not in marks and
           t.name not in own_e2e for t in tests):
        problems.append('uses the trained model but is not marked e2e')
    if any(c.endswith('chromium_or_skip') for c in _calls(path)) and not {
            'e2e', 'browser'} <= marks:
        problems.append('opens a browser but is not marked e2e and browser')
    return problems


def _test_modules():
    """Every test module under tests/, as a path relative to it."""
    for folder, _, files in os.walk(os.path.join(ROOT, 'tests')):
        for name in files:
            if name.startswith('test_') and name.endswith('.py'):
                yield os.path.relpath(os.path.join(folder, name), os.path.join(ROOT, 'tests'))


def test_markers_come_from_each_modules_pytestmark_or_an_e2e_test():
    found = {}
    for rel in sorted(_test_modules()):
        problems = _marks_problems(os.path.join(ROOT, 'tests', rel))
        if problems:
            found[rel] = problems
    assert found == {}
    with open(os.path.join(ROOT, 'tests', 'conftest.py'), encoding='utf-8') as f:
        assert 'add_marker' not in f.read()  # no second mechanism


# The suites that cross modules, at the top of tests/; every other test module mirrors one.
SUITES = {'test_architecture.py', 'test_startup.py', 'test_hostile_jobs.py',
          'test_crash_consistency.py', 'test_exit_codes.py', 'test_bounded_memory.py',
          'test_operations.py', 'test_reports_in_browser.py', 'test_cluster.py',
          'test_cluster_spark.py', 'test_object_storage.py', 'test_object_storage_history.py'}


def mirror_problems(tests_dir: str, code_dir: str) -> list:
    """Test modules that do not mirror a module of the code: tests/a/b/test_c.py tests a/b/c.py
    (or the package a/b/c/), tests/a/b/test_b.py the package a/b/ itself (its __init__.py);
    only the listed suites sit at the top."""
    problems = []
    for folder, _, files in os.walk(tests_dir):
        rel = os.path.relpath(folder, tests_dir)
        for name in files:
            if not (name.startswith('test_') and name.endswith('.py')):
                continue
            if rel == '.':
                if name not in SUITES:
                    problems.append(f'{name}: not a suite; put it beside the module it tests')
                continue
            module = name[len('test_'):-len('.py')]
            target = os.path.join(code_dir, rel, module)
            if module == os.path.basename(rel):
                target = os.path.join(code_dir, rel, '__init__')
            if not (os.path.isfile(target + '.py') or os.path.isdir(target)):
                problems.append(
                    f'{os.path.join(rel, name)}: no {os.path.relpath(target, code_dir)}.py')
    return sorted(problems)


def test_unit_tests_mirror_the_code_and_helpers_live_in_support():
    assert mirror_problems(os.path.join(ROOT, 'tests'), ROOT) == []
    helpers = [n for n in os.listdir(os.path.join(ROOT, 'tests'))
               if n.endswith('.py') and not n.startswith('test_')]
    assert sorted(helpers) == ['__init__.py', 'conftest.py']


def test_the_mirror_check_sees_a_test_without_its_module(tmp_path):
    (tmp_path / 'code' / 'pkg').mkdir(parents=True)
    (tmp_path / 'code' / 'pkg' / 'real.py').write_text('')
    (tmp_path / 'tests' / 'pkg').mkdir(parents=True)
    for name in ('test_real.py', 'test_gone.py'):
        (tmp_path / 'tests' / 'pkg' / name).write_text('')
    (tmp_path / 'tests' / 'test_theme.py').write_text('')
    assert mirror_problems(str(tmp_path / 'tests'), str(tmp_path / 'code')) == [
        'pkg/test_gone.py: no pkg/gone.py',
        'test_theme.py: not a suite; put it beside the module it tests']


def test_the_marker_checker_sees_a_stray_mark(tmp_path):
    bad = tmp_path / 'test_bad.py'
    bad.write_text('import pytest\n\n@pytest.mark.browser\ndef test_a(trained):\n    pass\n\n'
                   '@pytest.mark.e2e\ndef test_slow(trained):\n    pass\n\n'
                   'def test_b():\n    browser.chromium_or_skip()\n')
    assert _marks_problems(str(bad)) == [
        'mark outside pytestmark (line 3: browser)',
        'uses the trained model but is not marked e2e',
        'opens a browser but is not marked e2e and browser']
