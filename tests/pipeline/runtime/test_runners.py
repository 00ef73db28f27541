"""Other runners, offline: Dataflow's job description, and FlinkRunner's job-server jar.

The jobs on a real Flink cluster are in ``tests/test_cluster.py``. Here, Dataflow: a dry run
compiles the job, then Beam's Dataflow client builds the job description and stages its files,
the sdist of our setup.py included, into a local folder. Flink: what FlinkRunner would start
without ``--job_endpoint``. No test reaches the network: ``tests.support.portable.offline()`` refuses
and records any attempt.
"""

import importlib
import os
import re
import socket
import tarfile
from unittest import mock

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import (FlinkRunnerOptions, GoogleCloudOptions,
                                                  PipelineOptions, SetupOptions)
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.portability import flink_runner
from apache_beam.runners.runner import PipelineState

from pipeline import cli
from pipeline.runtime.runners import setup_file_copied
from transforms.errors import EXIT_FAILURE
from tests.support.datasets import generated_reviews, write_csv
from tests.support.paths import ROOT
from tests.support.portable import offline

pytestmark = pytest.mark.e2e

PREPROCESS_FLAGS = ['--max-tokens', '16', '--vocab-size', '40']
SCORE_FLAGS = ['--top-k', '2', '--min-batch-size', '4', '--max-batch-size', '16']
SETUP_PY = os.path.join(ROOT, 'setup.py')


def test_offline_guard_refuses_remote_hosts():
    with pytest.raises(AssertionError, match='beyond this machine'):
        with offline():
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(('example.com', 443), timeout=1)


# --- Flink: what FlinkRunner does without a job endpoint ---------------------------------

def test_flink_master_without_job_endpoint_would_need_the_job_server_jar():
    """What the README documents for a real cluster: without --job_endpoint, FlinkRunner starts
    Beam's Flink job server from a jar it downloads from Maven Central (or --flink_job_server_jar)."""
    options = PipelineOptions(['--runner=FlinkRunner', '--flink_master=flink-host:8081'])
    runner = flink_runner.FlinkRunner()
    assert runner.add_http_scheme('flink-host:8081') == 'http://flink-host:8081'
    jar = flink_runner.FlinkJarJobServer(options).path_to_jar()
    version = options.view_as(FlinkRunnerOptions).flink_version
    from apache_beam.utils.subprocess_server import JavaJarServer
    assert jar == (f'{JavaJarServer.MAVEN_CENTRAL_REPOSITORY}/org/apache/beam/'
                   f'beam-runners-flink-{version}-job-server/{beam.__version__}/'
                   f'beam-runners-flink-{version}-job-server-{beam.__version__}.jar')
    local = PipelineOptions(['--flink_job_server_jar', SETUP_PY])  # any existing file
    assert flink_runner.FlinkJarJobServer(local).path_to_jar() == SETUP_PY


@pytest.fixture(scope='module')
def reviews_csv(tmp_path_factory):
    return write_csv(str(tmp_path_factory.mktemp('runner_data') / 'reviews.csv'),
                     generated_reviews(60, seed=11))


# --- Dataflow, offline ----------------------------------------------------------------------

DATAFLOW_ARGS = [
    '--runner=DataflowRunner', '--dry_run=True',
    # A valid-looking project id: Beam rejects one like "p".
    '--project=imdb-sentiment-test', '--region=us-central1',
    # A gs:// path is required: with a local --temp_location the options validator tries to
    # create the default bucket gs://dataflow-staging-<region>-<hash> (network). A dry run
    # never touches it.
    '--temp_location=gs://imdb-sentiment-test/tmp',
    f'--setup_file={SETUP_PY}',
    '--no_auth',
]


def _pinned_beam_version() -> str:
    text = open(SETUP_PY, encoding='utf-8').read()
    return re.search(r"'apache-beam(?:\[[^\]]*\])?==([^']+)'", text).group(1)


def _dataflow_job(job: str, argv, staging: str):
    """Dry-runs the job's graph on DataflowRunner, then lets Beam's Dataflow client build the
    job description, staging into the local folder ``staging``."""
    from apache_beam.runners.dataflow.internal import apiclient
    from pipeline import flags
    described = importlib.import_module(f'pipeline.jobs.{job}').JOB
    job_args, beam_args = flags.parse(job, argv + DATAFLOW_ARGS)
    options = PipelineOptions(beam_args)
    with setup_file_copied(options):
        p = beam.Pipeline(options=options)
        described.build(p, job_args, described.plan(job_args),
                        os.path.join(staging, os.pardir, 'work'))
        result = p.run()
    # The dry run returns the compiled job without staging anything. Beam's client stages to
    # any filesystem; only the options validator insists on gs://, so switch it here.
    result.job.google_cloud_options.staging_location = staging
    client = apiclient.DataflowApplicationClient(result.job.options, staging)
    client.create_job_description(result.job)
    return result


def test_dataflow_wants_a_gs_temp_location_even_for_a_dry_run(tmp_path):
    """Why DATAFLOW_ARGS uses gs://: Beam validates the options when the pipeline is made, and
    for a local --temp_location it looks up (and would create) the default bucket in GCS."""
    argv = [a for a in DATAFLOW_ARGS if not a.startswith('--temp_location')]
    with offline(), mock.patch.object(GoogleCloudOptions, '_create_default_gcs_bucket',
                                      return_value=None) as default_bucket:
        with pytest.raises(ValueError, match='Invalid GCS path'):
            beam.Pipeline(options=PipelineOptions(argv + [f'--temp_location={tmp_path}']))
    default_bucket.assert_called_once()


@pytest.fixture(scope='module')
def dataflow(trained, reviews_csv, tmp_path_factory):
    jobs = {}
    for job, argv in (
            ('preprocess', ['--input', reviews_csv, '--output', 'unused', *PREPROCESS_FLAGS]),
            ('score', ['--input', reviews_csv, '--model', trained['model'],
                       '--output', 'unused', *SCORE_FLAGS])):
        staging = tmp_path_factory.mktemp(f'dataflow_{job}') / 'staging'
        staging.mkdir()
        with offline():
            jobs[job] = (_dataflow_job(job, argv, str(staging)), str(staging))
    return jobs


def _closed_port() -> int:
    """A port of 127.0.0.1 where nothing listens (just bound, then closed)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.parametrize('endpoint, said', [
    (None, 'no job server answers there'), ('localhost', 'it is not HOST:PORT'),
    ('127.0.0.1:port', 'it is not HOST:PORT')])
def test_a_job_endpoint_where_nothing_listens_is_refused_before_any_work(
        reviews_csv, tmp_path, capsys, endpoint, said):
    """Beam would wait --job_server_timeout (5 min) for it, then end in a traceback."""
    endpoint = endpoint or f'127.0.0.1:{_closed_port()}'
    out = tmp_path / 'out'
    with offline():
        code = cli.main(['preprocess', '--input', reviews_csv, '--output', str(out),
                         '--runner=FlinkRunner', f'--job_endpoint={endpoint}'])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert f'--job_endpoint={endpoint}: {said}' in err and 'make flink-up' in err
    assert 'Traceback' not in err and len(err.strip().splitlines()) == 1, err
    assert os.listdir(tmp_path) == []


def test_a_job_endpoint_that_listens_passes_the_check():
    from pipeline.runtime.runners import check_job_endpoint
    with socket.socket() as server:
        server.bind(('127.0.0.1', 0))
        server.listen()
        port = server.getsockname()[1]
        check_job_endpoint(PipelineOptions([f'--job_endpoint=localhost:{port}']))
    check_job_endpoint(PipelineOptions(['--job_endpoint=embed']))
    check_job_endpoint(PipelineOptions([]))


_FLINK_FAILURE = (
    'Pipeline BeamApp-root-1202130913-7ff8c751_4ff9 failed in state FAILED: '
    'org.apache.flink.runtime.JobException: Recovery is suppressed\n\tat org.apache.flink.X\n'
    'Caused by: java.lang.RuntimeException: Emitting the record caused an I/O exception\n'
    '\tat org.apache.flink.Y\nCaused by: java.lang.OutOfMemoryError: Java heap space\n\tat Z')


def test_a_job_the_engine_failed_is_one_line_with_its_root_cause():
    from pipeline.runtime.runners import engine_failure
    found = engine_failure(RuntimeError(_FLINK_FAILURE), PipelineOptions(['--runner=flink']))
    assert found.exit_code == EXIT_FAILURE
    assert str(found).startswith('the flink job BeamApp-root-1202130913-7ff8c751_4ff9 ended '
                                 'FAILED: java.lang.OutOfMemoryError: Java heap space;')
    assert '\n' not in str(found)
    removed = engine_failure(RuntimeError(
        'Pipeline j failed in state FAILED: org.apache.spark.SparkException: Job aborted due to '
        'stage failure: Master removed our application: FAILED'),
        PipelineOptions(['--runner=SparkRunner']))
    assert 'exit code 52 is an OutOfMemoryError' in str(removed) and '\n' not in str(removed)
    lost = engine_failure(RuntimeError(
        'Pipeline j failed in state FAILED: org.apache.spark.SparkException: Job aborted due to '
        'stage failure: Task 0 in stage 96.0 failed 1 times, most recent failure: Lost task 0.0 '
        'in stage 96.0 (TID 71) (127.0.0.1 executor 0): ExecutorLostFailure (executor 0 exited '
        'caused by one of the running tasks) Reason: Command exited with code 52\nDriver '
        'stacktrace:\n\tat X'), PipelineOptions(['--runner=SparkRunner']))
    assert 'exited with code 52 (exit code 52: the executor ran out of memory (OutOfMemoryError)' \
        in str(lost), str(lost)
    gone = engine_failure(RuntimeError(
        'Pipeline j failed in state FAILED: org.apache.flink.util.FlinkExpectedException: The '
        'TaskExecutor is shutting down.'), PipelineOptions(['--runner=FlinkRunner']))
    assert 'such as an OutOfMemoryError' in str(gone) and '\n' not in str(gone)
    short = engine_failure(RuntimeError('Pipeline j failed in state CANCELLED: '),
                           PipelineOptions(['--runner=SparkRunner']))
    assert 'ended CANCELLED: no reason given' in str(short)
    # Not an engine's failure: a bug, or the DirectRunner's own error, keeps its traceback.
    assert engine_failure(RuntimeError(_FLINK_FAILURE), PipelineOptions([])) is None
    assert engine_failure(ValueError(_FLINK_FAILURE), PipelineOptions(['--runner=flink'])) is None
    assert engine_failure(RuntimeError('boom'), PipelineOptions(['--runner=flink'])) is None


def _failing_build(p, job_args, plan, work_dir):
    raise RuntimeError(_FLINK_FAILURE)


def _assert_one_line_engine_failure(command, job, tmp_path, capsys, monkeypatch, **replaced):
    """``command`` on Flink with ``job``'s fields ``replaced``: exit 1, the engine's one line,
    nothing published."""
    monkeypatch.setattr(job, 'JOB', job.JOB.__class__(**{**job.JOB.__dict__, **replaced}))
    reviews = write_csv(str(tmp_path / 'r.csv'), generated_reviews(5, seed=3))
    with offline():
        code = cli.main([command, '--input', reviews, '--output', str(tmp_path / 'out'),
                         '--runner=FlinkRunner'])
    err = capsys.readouterr().err
    assert code == EXIT_FAILURE
    lines = [line for line in err.splitlines() if 'error' in line]
    assert len(lines) == 1 and 'java.lang.OutOfMemoryError: Java heap space' in lines[0], err
    assert 'Traceback' not in err
    assert sorted(os.listdir(tmp_path)) == ['r.csv']


def test_the_command_ends_a_failed_cluster_job_in_one_line(tmp_path, capsys, monkeypatch):
    """A job whose pipeline the engine failed: exit 1, one line, nothing published."""
    from pipeline.jobs import explore
    _assert_one_line_engine_failure('explore', explore, tmp_path, capsys, monkeypatch,
                                    build=_failing_build)


def test_a_job_whose_fallback_the_engine_fails_too_ends_in_one_line(tmp_path, capsys,
                                                                   monkeypatch):
    """Preprocess runs a smaller graph after a failure, to tell the data's fault; on a cluster
    whose executors keep dying that one fails as well, and the job's own failure is said."""
    from pipeline.jobs import preprocess
    fallback = preprocess.JOB.fallback.__class__(build=_failing_build,
                                                  reason=preprocess.JOB.fallback.reason)
    _assert_one_line_engine_failure('preprocess', preprocess, tmp_path, capsys, monkeypatch,
                                    build=_failing_build, fallback=fallback)


@pytest.mark.parametrize('job', ['preprocess', 'score'])
def test_dataflow_dry_run_through_the_command_line(trained, reviews_csv, tmp_path, job):
    out = str(tmp_path / 'out')
    model = ['--model', trained['model']] if job == 'score' else []
    checkout = sorted(os.listdir(ROOT))
    with offline():
        code = cli.main([job, '--input', reviews_csv, *model, '--output', out, *DATAFLOW_ARGS])
    assert code == 0 and os.listdir(tmp_path) == []
    # The sdist of --setup_file was built in a copy: no egg-info (or build/) in the checkout.
    assert sorted(os.listdir(ROOT)) == checkout


def test_the_setup_file_is_built_in_a_copy_of_its_project(tmp_path):
    """Beam's stager runs ``setup.py sdist`` where the file lies, writing *.egg-info there."""
    project = tmp_path / 'project'
    for rel, text in {'setup.py': 'setup()', 'README.md': 'r', 'pkg/__init__.py': '',
                      'pkg/sub/__init__.py': '', 'pkg/sub/m.py': 'x = 1',
                      'pkg/__pycache__/m.cpython-311.pyc': 'c', 'runs/out/part-0': 'data',
                      '.venv/lib/site.py': 'v', 'old.egg-info/PKG-INFO': 'p'}.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text)
    options = PipelineOptions([f'--setup_file={project}/setup.py'])
    setup = options.view_as(SetupOptions)
    with setup_file_copied(options):
        copy = os.path.dirname(setup.setup_file)
        assert copy != str(project) and os.path.basename(setup.setup_file) == 'setup.py'
        copied = sorted(os.path.relpath(os.path.join(d, n), copy)
                        for d, _, names in os.walk(copy) for n in names)
        assert copied == ['README.md', 'pkg/__init__.py', 'pkg/sub/__init__.py', 'pkg/sub/m.py',
                          'setup.py']
        open(os.path.join(copy, 'built.egg-info'), 'w').close()   # as the stager's build does
    assert setup.setup_file == f'{project}/setup.py' and not os.path.exists(copy)
    missing = PipelineOptions([f'--setup_file={tmp_path}/none/setup.py'])  # Beam names it
    with setup_file_copied(missing):
        assert missing.view_as(SetupOptions).setup_file == f'{tmp_path}/none/setup.py'


def test_a_dry_run_whose_graph_fails_keeps_its_error(reviews_csv, tmp_path, monkeypatch):
    """Preprocess runs a smaller graph when its pipeline fails, to tell the data's fault from a
    bug; in a dry run that one is not run either, so it cannot: the build's error stands."""
    from pipeline.jobs import preprocess

    def failing_build(p, job_args, plan, work_dir):
        raise RuntimeError('the graph could not be built')

    monkeypatch.setattr(preprocess, 'JOB', preprocess.JOB.__class__(
        **{**preprocess.JOB.__dict__, 'build': failing_build}))
    with offline(), pytest.raises(RuntimeError, match='the graph could not be built'):
        cli.main(['preprocess', '--input', reviews_csv, '--output', str(tmp_path / 'out'),
                  *DATAFLOW_ARGS])
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('runner', [None, 'direct', 'FlinkRunner', 'sparkrunner',
                                    'apache_beam.runners.direct.direct_runner.DirectRunner'])
def test_dry_run_off_dataflow_is_refused_before_any_work(reviews_csv, tmp_path, capsys, runner):
    """Every runner but Dataflow's ignores --dry_run and would run the whole job (then publish
    nothing): refused in one line, nothing written, no cluster contacted."""
    out = tmp_path / 'out'
    argv = ['preprocess', '--input', reviews_csv, '--output', str(out), '--dry_run=True']
    argv += [f'--runner={runner}', '--job_endpoint=localhost:1'] if runner else []
    with offline():
        code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert '--dry_run is honoured only by the DataflowRunner' in err
    assert 'Traceback' not in err and len(err.strip().splitlines()) == 1, err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('job', ['preprocess', 'score'])
def test_dataflow_dry_run_compiles_the_job_without_gcp(dataflow, job):
    result, _ = dataflow[job]
    assert result.state == PipelineState.DONE
    description = result.job.proto
    assert description.name.startswith('beamapp-')
    assert description.type_.name == 'JOB_TYPE_BATCH'
    options = dict(description.environment.sdk_pipeline_options['options'])
    assert options['project'] == 'imdb-sentiment-test' and options['region'] == 'us-central1'
    # Our setup.py, in the copy of the project the sdist was built from.
    assert os.path.basename(options['setup_file']) == 'setup.py'
    assert os.path.dirname(options['setup_file']) != ROOT


@pytest.mark.parametrize('job', ['preprocess', 'score'])
def test_dataflow_stages_an_sdist_of_our_four_packages(dataflow, job):
    result, staging = dataflow[job]
    packages = {p.name: p.location for p in result.job.proto.environment.worker_pools[0].packages}
    assert packages['workflow.tar.gz'] == os.path.join(staging, 'workflow.tar.gz')
    with tarfile.open(os.path.join(staging, 'workflow.tar.gz')) as sdist:
        names = {n.split('/', 1)[1] for n in sdist.getnames() if '/' in n}
        top = {n.split('/', 1)[0] for n in sdist.getnames()}
    # setuptools releases differ in normalising the distribution name of the sdist folder.
    assert {t.replace('-', '_', 1) for t in top} == {'imdb_sentiment-0.1.0'}
    for module in ('pipeline/jobs/score.py', 'pipeline/jobs/preprocess.py', 'transforms/schema.py',
                   'trainer/model.py', 'analysis/metrics.py', 'setup.py'):
        assert module in names, module
    assert {'pipeline', 'transforms', 'trainer', 'analysis'} <= {n.split('/')[0] for n in names}


@pytest.mark.parametrize('job', ['preprocess', 'score'])
def test_dataflow_workers_run_the_pinned_beam_and_python(dataflow, job):
    result, _ = dataflow[job]
    version = _pinned_beam_version()
    assert beam.__version__ == version == '2.77.0'
    python = re.search(r"python_requires='>=(3\.\d+),<", open(SETUP_PY).read()).group(1)
    assert python == '3.11'
    image = f'beam_python{python}_sdk:{version}'  # apache/beam_python3.11_sdk, mirrored on GCR
    pool = result.job.proto.environment.worker_pools[0]
    images = {c.container_image for c in pool.sdk_harness_container_images}
    assert images == {f'gcr.io/cloud-dataflow/v1beta3/{image}'}
    for env in result.job.proto_pipeline.components.environments.values():
        payload = beam_runner_api_pb2.DockerPayload.FromString(env.payload)
        assert payload.container_image.endswith('/' + image)


EXPECTED_STEPS = {
    'preprocess': {'ReadAndValidate', 'Split', 'Analyze[Train]', 'Transform[Train]',
                   'Transform[Eval]', 'WriteTransformFn', 'Write[train]', 'Write[eval]',
                   'ReadAndValidate/ReadReviews', 'ReadAndValidate/WriteRejected'},
    'score': {'ReadAndValidate', 'ReadAndValidate/Validate', 'Score', 'Score/KeyByRecord',
              'Score/RunInference/BeamML_RunInference',
              'WritePredictions', 'WriteRejected', 'Summarize'},
}


@pytest.mark.parametrize('job', ['preprocess', 'score'])
def test_dataflow_pipeline_proto_holds_our_labelled_steps(dataflow, job):
    """Runner v2 sends the graph as the staged pipeline proto (pipeline.pb)."""
    result, staging = dataflow[job]
    with open(os.path.join(staging, 'pipeline.pb'), 'rb') as f:
        staged = beam_runner_api_pb2.Pipeline.FromString(f.read())
    assert staged == result.job.proto_pipeline
    names = {t.unique_name for t in staged.components.transforms.values()}
    assert EXPECTED_STEPS[job] <= names, EXPECTED_STEPS[job] - names
