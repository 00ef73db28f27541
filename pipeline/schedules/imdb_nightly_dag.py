"""Airflow DAG ``imdb_sentiment_nightly``: one ``imdb-sentiment score`` run a day, at 02:00 UTC.

Airflow and the project live in two virtual environments (their pinned dependency trees
do not fit in one), so this file imports Airflow only. Its one task, a
``BeamRunPythonPipelineOperator``, starts the job in a subprocess with the project's
interpreter (``py_interpreter``; no ``py_requirements``, so the provider builds no venv)::

    $IMDB_SENTIMENT_PYTHON pipeline/schedules/score_nightly.py --runner=DirectRunner \\
        --input=... --model=... --output=... --date={{ ds }} --labels=airflow-version=...

Settings: each is an Airflow Variable, read when the task renders (set it in the UI, with
``airflow variables set imdb_sentiment_model /models``, or as the environment variable
``AIRFLOW_VAR_IMDB_SENTIMENT_MODEL``); when it is not set, the environment variable of the
upper-case name (``IMDB_SENTIMENT_MODEL``) read when this file is parsed; else a path in this
checkout (the layout ``make run`` writes):

    imdb_sentiment_input   reviews to score (a CSV, a glob or an aclImdb folder); "{date}" in
                           it is the night's date: each night reads its own day's files
    imdb_sentiment_model   a model registry (its champion), one export, or a folder of exports
    imdb_sentiment_output  each night writes OUTPUT/dt=YYYY-MM-DD/
    imdb_sentiment_runner  DirectRunner (default), FlinkRunner, DataflowRunner

``IMDB_SENTIMENT_PYTHON`` (environment only: the interpreter is fixed when the DAG is
parsed) is the project's Python, default ``<checkout>/.venv/bin/python``.

``{{ ds }}`` is the run's logical date. Airflow 3 runs a cron schedule with
``CronTriggerTimetable``, whose logical date is the moment the run fires: the 02:00 UTC run
of 2026-11-24 scores ``--date=2026-11-24``, the partition the job itself defaults to (today,
UTC) and the one ``crontab.example`` writes.

Missed nights and backfills: ``catchup=True`` with ``max_active_runs=1`` runs every night since
``start_date`` (``IMDB_SENTIMENT_START_DATE``, read at parse time) that has no run yet, oldest
first, and ``airflow dags backfill -s FIRST -e LAST
imdb_sentiment_nightly`` runs a range again; each run scores its own logical date into its own
partition.

Exit codes (``transforms/errors.py``): 1 (unexpected failure), 75 (another run holds the
partition), 130 (interrupted) and 143 (terminated) are retried; 2 (usage or unusable
input/model) and 3 (too many rejected records: the night is kept as it was) fail the run at
once, since a retry would do the same again; 5 (no input file for the date) marks the task
skipped: a day with no data is not a failure.
"""

import datetime
import os
import re
from pathlib import Path
from typing import Any, Optional

from airflow.providers.apache.beam.operators.beam import BeamRunPythonPipelineOperator
from airflow.sdk import DAG, Context
from airflow.sdk.exceptions import AirflowException, AirflowFailException, \
    AirflowSkipException

DAG_ID = 'imdb_sentiment_nightly'
SCHEDULE = '0 2 * * *'  # 02:00 UTC every day

# The checkout this file lies in (resolved, so a symlink from Airflow's dags folder works).
CHECKOUT = Path(__file__).resolve().parents[2]
LAUNCHER = str(Path(__file__).resolve().with_name('score_nightly.py'))
PYTHON = os.environ.get('IMDB_SENTIMENT_PYTHON', str(CHECKOUT / '.venv' / 'bin' / 'python'))

DEFAULTS = {
    'IMDB_SENTIMENT_INPUT': str(CHECKOUT / 'runs' / 'incoming' / 'dt={date}' / '*.csv'),
    'IMDB_SENTIMENT_MODEL': str(CHECKOUT / 'runs' / 'latest' / 'model'),
    'IMDB_SENTIMENT_OUTPUT': str(CHECKOUT / 'runs' / 'nightly'),
    'IMDB_SENTIMENT_RUNNER': 'DirectRunner',
}

# The first night of the schedule: with catchup, every night since then runs (read at parse
# time from IMDB_SENTIMENT_START_DATE, YYYY-MM-DD; set it to the day your data starts).
START = datetime.datetime.fromisoformat(
    os.environ.get('IMDB_SENTIMENT_START_DATE', '2026-11-01')).replace(
        tzinfo=datetime.timezone.utc)

# Exit codes of `imdb-sentiment score` that a retry cannot fix.
NO_RETRY = {2: 'usage or unusable input/model: fix the command or the paths',
            3: 'too many rejected records: the night is kept as it was, see dt=DATE.failed-*'}
NO_INPUT = 5  # no input file for the date: the task is skipped, not failed


def setting(name: str) -> str:
    """A template: Variable ``name.lower()``, else env ``name`` at parse time, else the default.

    The fallback is embedded as a Python string literal, which Jinja reads the same way,
    so paths with quotes or spaces survive.
    """
    return '{{ var.value.get(%r, %r) }}' % (name.lower(), os.environ.get(name, DEFAULTS[name]))


def exit_code(error: Exception) -> Optional[int]:
    """The job's exit code from the Beam hook's 'failed with return code N' error, or None."""
    found = re.search(r'return code (-?\d+)\s*$', str(error))
    return int(found.group(1)) if found else None


class ScoreNightlyOperator(BeamRunPythonPipelineOperator):
    """The Beam operator, failing without retries on the exit codes in ``NO_RETRY``."""

    def execute(self, context: Context) -> Any:
        try:
            return super().execute(context)
        except AirflowException as e:
            code = exit_code(e)
            if code == NO_INPUT:
                raise AirflowSkipException(f'imdb-sentiment score: no input for '
                                           f'{context["ds"]} (exit {code}): nothing to score') from e
            if code in NO_RETRY:
                raise AirflowFailException(f'imdb-sentiment score exited with {code} '
                                           f'({NO_RETRY[code]}); not retrying') from e
            raise


with DAG(
    dag_id=DAG_ID,
    description='Nightly imdb-sentiment score run into OUTPUT/dt=YYYY-MM-DD/',
    schedule=SCHEDULE,
    start_date=START,
    catchup=True,          # every missed night since start_date runs, oldest first
    max_active_runs=1,     # a night's drift report reads the previous night's partition
    default_args={
        'owner': 'imdb-sentiment',
        'retries': 2,
        'retry_delay': datetime.timedelta(minutes=10),
        'execution_timeout': datetime.timedelta(hours=4),
    },
    tags=['imdb-sentiment', 'beam'],
) as dag:
    score = ScoreNightlyOperator(
        task_id='score',
        py_file=LAUNCHER,
        py_interpreter=PYTHON,
        runner=setting('IMDB_SENTIMENT_RUNNER'),
        pipeline_options={
            'input': setting('IMDB_SENTIMENT_INPUT'),
            'model': setting('IMDB_SENTIMENT_MODEL'),
            'output': setting('IMDB_SENTIMENT_OUTPUT'),
            'date': '{{ ds }}',
        },
        # On Dataflow: imdb_sentiment_runner=DataflowRunner, gs:// paths, and for example
        #   default_pipeline_options={'temp_location': 'gs://BUCKET/tmp',
        #                             'setup_file': str(CHECKOUT / 'setup.py')},
        #   dataflow_config={'job_name': 'imdb-nightly', 'project_id': 'PROJECT',
        #                    'location': 'europe-west1', 'wait_until_finished': True},
        # The provider then submits the job with the google_cloud_default connection,
        # follows it on Dataflow and cancels it when the task is killed.
    )
