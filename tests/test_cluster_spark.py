"""The Beam jobs on a real Spark standalone cluster on this machine, against the DirectRunner.

The module starts the cluster of ``make spark-up`` (``pipeline/cluster/local/spark.py``: a
master, one worker, a Python worker pool beside it, Beam's Spark job server) once, on free
ports under a temporary run dir, runs preprocess on the same 2,000 reviews as
``test_cluster.py`` and ``tests/skew_pipeline.py`` with the flags ``spark-up`` prints, compares
the outputs with the DirectRunner's (run once for both engines), checks through the master's
``/json/`` that each job was one Spark application that FINISHED, that the pool started one SDK
worker per job, that every process (the executors and SDK workers included, watched while the
jobs ran) listened on loopback only, and stops every process it started, by pid file, whatever
happened.

Score and explore are not run here, to keep CI's time: the skew pipeline has each kind of
transform they use (RunInference through the project's model handler, the combiners, side
inputs), and preprocess, the heaviest job (tf.Transform), runs whole; the Flink module also
runs score.

``IMDB_SENTIMENT_SPARK_RUN_DIR=.cluster/spark`` uses a cluster already started by
``make spark-up`` instead (and leaves it running). Without Java, Maven or the shared data the
module skips, unless ``IMDB_SENTIMENT_REQUIRE_CLUSTER=1`` (CI), where a missing prerequisite
fails.
"""

import time

import pytest

from pipeline.cluster.local import install, processes, spark
from tests.support import cluster_runs, same_outputs
from tests.support.cluster_runs import SAMPLE_SIZE, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    """The Spark cluster's state (cluster.json); started here unless one is given. Stopping it
    stops the executors and SDK workers with it."""
    yield from cluster_runs.started_cluster(spark, 'spark', lambda run_dir: spark.SparkConfig(
        run_dir=run_dir, master_port=free_port(), web_ui_port=free_port(),
        worker_ui_port=free_port(), driver_ui_port=free_port(), job_port=free_port(),
        artifact_port=free_port(), expansion_port=free_port(), pool_port=free_port()),
        tmp_path_factory)


def _applications(state):
    page = processes.get_json(f'{state["web_ui"]}/json/')
    return {app['id']: app for app in page['activeapps'] + page['completedapps']}


@pytest.fixture(scope='module')
def cluster_jobs(cluster):
    return lambda: set(_applications(cluster))


def test_preprocess_on_spark_equals_the_direct_runner(preprocessed):
    manifest = same_outputs.assert_same_preprocess(preprocessed.direct, preprocessed.out)
    assert manifest['counts']['read'] == SAMPLE_SIZE


@pytest.mark.parametrize('job', ['preprocessed', 'skewed'])
def test_each_job_was_one_spark_application_that_finished(cluster, job, request):
    apps = request.getfixturevalue(job).jobs
    assert len(apps) == 1, apps  # one Beam job is one Spark application
    deadline = time.monotonic() + 60
    while _applications(cluster)[apps[0]]['state'] != 'FINISHED' and time.monotonic() < deadline:
        time.sleep(1)  # the driver stops its context just after the job reports DONE
    app = _applications(cluster)[apps[0]]
    assert app['state'] == 'FINISHED' and app['cores'] > 0, app


@pytest.mark.parametrize('job', ['preprocessed', 'skewed'])
def test_the_pool_started_one_sdk_worker_for_the_whole_job(job, request):
    """--environment_cache_millis: without it the executor asks for a new SDK worker (which
    imports TensorFlow again) for every task, 99 of them for one preprocess."""
    assert request.getfixturevalue(job).starts == {'worker-pool.out': 1}


def test_every_cluster_process_listens_on_loopback_only(cluster, listening, preprocessed,
                                                         skewed):
    """The master, the worker, the pool, the job server (the driver: its RPC, block manager and
    UI) and, while the jobs ran, the executors (Beam's Fn API servers among them) and the SDK
    workers."""
    listening.sample()
    records = cluster_runs.running_records(cluster)
    assert {r['name'] for r in records} == {'master', 'worker', 'worker-pool', 'job-server'}
    assert {name for name, _, _ in listening.seen} == {r['name'] for r in records}
    worker = [r['pid'] for r in records if r['name'] == 'worker']
    executors = {pid for name, pid, _ in listening.seen if name == 'worker'} - set(worker)
    assert executors, 'no executor was seen listening during the jobs'
    cluster_runs.assert_loopback(listening.seen)
    assert cluster['spark_version'] == install.SPARK_VERSION


def test_the_printed_flags_are_the_ones_the_jobs_ran_with(cluster, preprocessed):
    cluster_runs.assert_printed_flags_ran(
        cluster, preprocessed.out, spark.beam_flags(spark.SparkConfig(**cluster['config'])))


def test_every_transform_the_jobs_use_survives_the_version_skew(skewed):
    """Beam 2.77's SDK against Beam 2.62's Spark runner (tests/support/skew_pipeline.py): the
    outputs and the counter (attempted values: Spark reports no committed ones) equal the
    DirectRunner's."""
    assert len(skewed.jobs) == 1


def test_the_job_server_knows_every_urn_it_must_read(cluster, preprocessed, skewed):
    pipelines = [preprocessed.pipeline, skewed.pipeline]
    cluster_runs.assert_runner_knows_what_it_reads(pipelines, cluster['job_server_jar'])

