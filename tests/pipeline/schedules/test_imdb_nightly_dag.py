"""The Airflow DAG in pipeline/schedules/, loaded and run by Airflow in its own environment.

Airflow is not in the project's environment: it lives in ``.venv-airflow`` (``make airflow-env``),
so each test runs a short script with that interpreter and reads its findings from a JSON file.
No Airflow database is needed: the DAG is parsed by ``DagBag``, its schedule is read the way
the scheduler reads it (serialized), and its templates are rendered with Airflow's own
Variable accessor, which finds ``AIRFLOW_VAR_*`` environment variables.

Without ``.venv-airflow`` the tests skip, unless ``IMDB_SENTIMENT_REQUIRE_AIRFLOW=1`` (CI)
turns the skip into a failure.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import paths
from tests.support.read import read_json

ROOT = Path(paths.ROOT)
DAG_FILE = ROOT / 'pipeline' / 'schedules' / 'imdb_nightly_dag.py'
LAUNCHER = ROOT / 'pipeline' / 'schedules' / 'score_nightly.py'
AIRFLOW_PYTHON = Path(os.environ.get('IMDB_SENTIMENT_AIRFLOW_PYTHON',
                                     ROOT / '.venv-airflow' / 'bin' / 'python'))
NIGHT = '2026-11-24'

pytestmark = [pytest.mark.e2e, pytest.mark.airflow]
if not AIRFLOW_PYTHON.exists():
    _reason = f'{AIRFLOW_PYTHON} not found: `make airflow-env` creates the Airflow environment'
    if os.environ.get('IMDB_SENTIMENT_REQUIRE_AIRFLOW') == '1':
        raise RuntimeError(_reason)
    pytestmark.append(pytest.mark.skip(reason=_reason))

# Runs in .venv-airflow: argv = mode, DAG file, day, result file. It parses the DAG, finds the
# logical date of the first run on that day and renders the task; then mode 'inspect' captures
# the command the Beam hook would start, and 'execute' runs the task for real.
AIRFLOW_SCRIPT = r'''
import json, sys
from unittest import mock

import pendulum
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.apache.beam.hooks import beam as beam_hook
from airflow.providers.apache.beam.operators.beam import BeamRunPythonPipelineOperator
from airflow.sdk.execution_time.context import MacrosAccessor, VariableAccessor
from airflow.serialization.serialized_objects import DagSerialization
from airflow.timetables.base import TimeRestriction

mode, dag_file, day, result_file = sys.argv[1:]
bag = DagBag(dag_folder=dag_file)
found = {'import_errors': {f: e[-3000:] for f, e in bag.import_errors.items()},
         'dag_ids': sorted(bag.dags)}
dag = bag.dags.get('imdb_sentiment_nightly')
if dag is not None:
    scheduled = DagSerialization.from_dict(DagSerialization.to_dict(dag))  # as the scheduler has it
    run = scheduled.timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=pendulum.parse(day), latest=None, catchup=True))
    task = dag.get_task('score')
    logical = run.logical_date  # the task context's date keys, as Airflow's task runner sets them
    context = {'dag': dag, 'task': task, 'params': {}, 'macros': MacrosAccessor(),
               'logical_date': logical, 'ds': logical.strftime('%Y-%m-%d'),
               'ds_nodash': logical.strftime('%Y%m%d'), 'ts': logical.isoformat(),
               'ts_nodash': logical.strftime('%Y%m%dT%H%M%S'),
               'data_interval_start': run.data_interval.start,
               'data_interval_end': run.data_interval.end,
               'var': {'value': VariableAccessor(deserialize_json=False),
                       'json': VariableAccessor(deserialize_json=True)}}
    found.update(
        task_ids=sorted(dag.task_dict), schedule=scheduled.timetable.summary,
        timetable=type(scheduled.timetable).__name__, catchup=scheduled.catchup,
        run_after=run.run_after.isoformat(), logical_date=logical.isoformat(),
        is_beam_python=isinstance(task, BeamRunPythonPipelineOperator),
        retries=task.retries, py_interpreter=task.py_interpreter,
        py_requirements=task.py_requirements, py_file=task.py_file)
    try:
        task.render_template_fields(context)
        found.update(pipeline_options=dict(task.pipeline_options), runner=task.runner)
        if mode == 'inspect':
            with mock.patch.object(beam_hook, 'run_beam_command') as run_beam_command:
                task.execute(context)
            found['command'] = run_beam_command.call_args.kwargs['cmd']
        else:
            task.execute(context)
        found['outcome'] = 'ok'
    except Exception as e:
        found['outcome'] = f'{type(e).__name__}: {e}'
with open(result_file, 'w') as f:
    json.dump(found, f)
'''


def _airflow(tmp_path: Path, mode: str, env: dict, night: str = NIGHT) -> dict:
    """Runs AIRFLOW_SCRIPT in .venv-airflow with a throwaway AIRFLOW_HOME; returns its findings."""
    home, result = tmp_path / 'airflow_home', tmp_path / f'{mode}-{night}.json'
    home.mkdir(exist_ok=True)
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(('AIRFLOW', 'IMDB_SENTIMENT_', 'PYTHON', 'VIRTUAL_ENV'))}
    clean.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES='False',
                 IMDB_SENTIMENT_PYTHON=sys.executable, **env)
    done = subprocess.run([str(AIRFLOW_PYTHON), '-c', AIRFLOW_SCRIPT, mode, str(DAG_FILE), night,
                           str(result)], env=clean, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and result.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(result.read_text())


@pytest.fixture(scope='module')
def inspected(tmp_path_factory):
    # The three ways a setting reaches the task: an Airflow Variable (here from its environment
    # variable), the project's environment variable at parse time, the checkout default.
    return _airflow(tmp_path_factory.mktemp('dag'), 'inspect',
                    {'AIRFLOW_VAR_IMDB_SENTIMENT_MODEL': '/models/imdb',
                     'IMDB_SENTIMENT_OUTPUT': '/scores/nightly'})


def test_dag_imports_with_one_beam_task(inspected):
    assert inspected['import_errors'] == {}
    assert inspected['dag_ids'] == ['imdb_sentiment_nightly']
    assert inspected['task_ids'] == ['score']
    assert inspected['is_beam_python'] is True
    assert inspected['retries'] == 2
    # The job runs with the project's interpreter, not in a venv the provider would build.
    assert inspected['py_interpreter'] == sys.executable
    assert inspected['py_requirements'] is None
    assert inspected['py_file'] == str(LAUNCHER)


def test_schedule_is_daily_and_catches_up_missed_nights(inspected):
    assert inspected['schedule'] == '0 2 * * *'
    assert inspected['timetable'] == 'CronTriggerTimetable'
    assert inspected['catchup'] is True
    # The run that fires on NIGHT is logically of NIGHT, so it scores NIGHT's partition.
    assert inspected['run_after'] == inspected['logical_date'] == f'{NIGHT}T02:00:00+00:00'


def test_rendered_options_name_the_night_and_the_settings(inspected):
    assert inspected['outcome'] == 'ok'
    assert inspected['pipeline_options'] == {
        'input': str(ROOT / 'runs' / 'incoming' / 'dt={date}' / '*.csv'),
        'model': '/models/imdb',
        'output': '/scores/nightly',
        'date': NIGHT,
    }
    assert inspected['runner'] == 'DirectRunner'


def test_command_line_is_the_score_job_for_the_night(inspected):
    assert inspected['outcome'] == 'ok'
    cmd = inspected['command']
    assert cmd[:3] == [sys.executable, str(LAUNCHER), '--runner=DirectRunner']
    assert f'--date={NIGHT}' in cmd
    assert '--model=/models/imdb' in cmd
    assert '--output=/scores/nightly' in cmd


def test_two_logical_dates_render_their_own_dated_inputs(tmp_path):
    template = '/data/incoming/dt={date}/*.csv'
    for night in (NIGHT, '2026-11-25'):
        found = _airflow(tmp_path, 'inspect', {'AIRFLOW_VAR_IMDB_SENTIMENT_INPUT': template},
                         night=night)
        assert found['outcome'] == 'ok' and found['logical_date'] == f'{night}T02:00:00+00:00'
        # The job fills {date} from --date: the night's own files, whatever day it runs on.
        assert f'--input={template}' in found['command'] and f'--date={night}' in found['command']


def test_task_scores_the_night_into_its_partition(trained, tmp_path):
    out = tmp_path / 'scores'
    incoming = tmp_path / 'incoming' / f'dt={NIGHT}'
    incoming.mkdir(parents=True)
    shutil.copy(trained['csv'], incoming / 'reviews.csv')
    found = _airflow(tmp_path, 'execute', {
        'AIRFLOW_VAR_IMDB_SENTIMENT_INPUT': str(tmp_path / 'incoming' / 'dt={date}' / '*.csv'),
        'AIRFLOW_VAR_IMDB_SENTIMENT_MODEL': trained['model'],
        'AIRFLOW_VAR_IMDB_SENTIMENT_OUTPUT': str(out)})
    assert found['outcome'] == 'ok'
    manifest = read_json(out / f'dt={NIGHT}' / 'manifest.json')
    assert manifest['status'] == 'ok' and manifest['date'] == NIGHT
    assert manifest['counts']['predicted'] + manifest['counts']['rejected'] == len(trained['rows'])
    assert (out / 'history.json').exists() and (out / 'index.html').exists()


def test_a_night_without_input_is_skipped_not_failed(trained, tmp_path):
    found = _airflow(tmp_path, 'execute', {
        'AIRFLOW_VAR_IMDB_SENTIMENT_INPUT': str(tmp_path / 'incoming' / 'dt={date}' / '*.csv'),
        'AIRFLOW_VAR_IMDB_SENTIMENT_MODEL': trained['model'],
        'AIRFLOW_VAR_IMDB_SENTIMENT_OUTPUT': str(tmp_path / 'scores')})
    assert found['outcome'].startswith('AirflowSkipException: imdb-sentiment score: no input')
    assert not (tmp_path / 'scores').exists()


def test_unusable_model_fails_without_retry(tmp_path):
    found = _airflow(tmp_path, 'execute', {'AIRFLOW_VAR_IMDB_SENTIMENT_MODEL': str(tmp_path),
                                           'AIRFLOW_VAR_IMDB_SENTIMENT_OUTPUT': str(tmp_path)})
    assert found['outcome'].startswith('AirflowFailException: imdb-sentiment score exited with 2')
    assert not list(tmp_path.glob('dt=*'))
