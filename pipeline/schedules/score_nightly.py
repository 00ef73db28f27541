"""Launcher for ``imdb-sentiment score`` as a Python file, for schedulers that run a ``py_file``.

Airflow's ``BeamRunPythonPipelineOperator`` starts ``PYTHON [py_options] py_file --runner=...
--key=value ...``; this file turns that into ``imdb-sentiment score --runner=... --key=value ...``
and exits with the command's documented exit code (0 ok, 1 failure, 2 usage or unusable input,
3 too many rejected records, 5 no input for the date, 130 interrupted). Run it with the
project's interpreter::

    .venv/bin/python pipeline/schedules/score_nightly.py \\
        --input='incoming/dt={date}/*.csv' --model=MODELS --output=OUT --date=2026-11-24
"""

import sys

from pipeline import cli

if __name__ == '__main__':
    sys.exit(cli.main(['score', *sys.argv[1:]]))
