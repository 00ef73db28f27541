"""``python -m benchmarks [NAME [ARGS]]``: the list of benchmarks, or one of them run."""

import ast
import importlib
import os
import sys
from typing import List, Optional

from benchmarks import BENCHMARKS, TOOLS

HERE = os.path.dirname(os.path.abspath(__file__))


def summary(name: str) -> str:
    """The first line of module ``name``'s docstring, read without importing it."""
    with open(os.path.join(HERE, f'{name}.py'), encoding='utf-8') as f:
        doc = ast.get_docstring(ast.parse(f.read())) or ''
    return doc.split('\n', 1)[0]


def usage() -> str:
    width = max(map(len, BENCHMARKS + TOOLS))
    lines = ['usage: python -m benchmarks NAME [--help | ARGS]', '', 'benchmarks:']
    lines += [f'  {name:<{width}}  {summary(name)}' for name in BENCHMARKS]
    lines += ['', 'tools:']
    lines += [f'  {name:<{width}}  {summary(name)}' for name in TOOLS]
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ('-h', '--help'):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in BENCHMARKS + TOOLS:
        print(f'python -m benchmarks: no benchmark {name!r}\n\n{usage()}', file=sys.stderr)
        return 2
    return importlib.import_module(f'benchmarks.{name}').main(rest) or 0


if __name__ == '__main__':
    sys.exit(main())
