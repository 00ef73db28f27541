"""The Beam jobs on a real Spark standalone cluster on this machine, against the DirectRunner.

The module starts the cluster of ``make spark-up`` (``pipeline/cluster/local/spark.py``: a
master, one worker, a Python worker pool beside it, Beam's Spark job server) once, on free
ports under a temporary run dir, runs preprocess, score and explore on the same 2,000 reviews
as ``test_cluster.py``, and ``tests/skew_pipeline.py``, with the flags ``spark-up`` prints,
compares the outputs with the DirectRunner's (run once for both engines), checks through the
master's ``/json/`` that each job was one Spark application that FINISHED, that the pool
started one SDK worker per job, that the stages ran as many tasks as the partitions
``spark-up --parallelism`` set (seen through the driver's REST API), that every process (the
executors and SDK workers included, watched while the jobs ran) listened on loopback only, and
stops every process it started, by pid file, whatever happened. A second, small cluster, whose
executor is too small for the job's bundles, shows that a job whose executors die ends, in one
line (the retry limit).

``IMDB_SENTIMENT_SPARK_RUN_DIR=.cluster/spark`` uses a cluster already started by
``make spark-up`` instead (and leaves it running). Without Java, Maven or the shared data the
module skips, unless ``IMDB_SENTIMENT_REQUIRE_CLUSTER=1`` (CI), where a missing prerequisite
fails.
"""

import collections
import os
import subprocess
import sys
import threading
import time

import pytest

from pipeline.cluster.local import install, processes, spark
from tests.support import cluster_runs, same_outputs
from tests.support.cluster_runs import SAMPLE_SIZE, free_port
from tests.support.datasets import review_rows, write_csv
from tests.support.paths import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

# The test cluster's spark-up --parallelism: not its 2 cores, Spark's own default, so that the
# stages show whose number they follow.
PARTITIONS = 3


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    """The Spark cluster's state (cluster.json); started here unless one is given. Stopping it
    stops the executors and SDK workers with it."""
    yield from cluster_runs.started_cluster(
        spark, 'spark', lambda run_dir: _config(run_dir, parallelism=PARTITIONS), tmp_path_factory)


def _config(run_dir, **settings):
    """make spark-up's cluster on free ports."""
    return spark.SparkConfig(
        run_dir=run_dir, master_port=free_port(), web_ui_port=free_port(),
        worker_ui_port=free_port(), driver_ui_port=free_port(), job_port=free_port(),
        artifact_port=free_port(), expansion_port=free_port(), pool_port=free_port(), **settings)


def _applications(state):
    page = processes.get_json(f'{state["web_ui"]}/json/')
    return {app['id']: app for app in page['activeapps'] + page['completedapps']}


@pytest.fixture(scope='module')
def tasks_per_stage(cluster):
    """{(application, stage, attempt): its number of tasks} of every stage the driver (the job
    server) ran while the module's jobs ran, from its REST API, which lives as long as a job."""
    seen, done = {}, threading.Event()
    api = f'http://127.0.0.1:{cluster["config"]["driver_ui_port"]}/api/v1/applications'

    def watch():
        while not done.wait(1):
            for app in processes.get_json(api) or []:
                seen.update(((app['id'], s['stageId'], s['attemptId']), s['numTasks'])
                            for s in processes.get_json(f'{api}/{app["id"]}/stages') or [])

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    yield seen
    done.set()
    thread.join()


@pytest.fixture(scope='module')
def cluster_jobs(cluster, tasks_per_stage):
    return lambda: set(_applications(cluster))


def test_preprocess_on_spark_equals_the_direct_runner(preprocessed):
    manifest = same_outputs.assert_same_preprocess(preprocessed.direct, preprocessed.out)
    assert manifest['counts']['read'] == SAMPLE_SIZE


def test_spark_partitions_follow_spark_up_s_parallelism(cluster, preprocessed, tasks_per_stage):
    """A stage is one task per partition: an impulse's stage has one, a union the sum of its
    inputs', and every other stage after a group by key as many as the job server's
    spark.default.parallelism (Spark's own default would be the worker's 2 cores), which the
    job was told: most stages."""
    partitions = cluster['config']['parallelism']
    assert partitions != cluster['config']['worker_cores']
    counts = collections.Counter(tasks_per_stage.values())
    assert counts.most_common(1)[0][0] == partitions, counts
    assert f'--spark_default_parallelism={partitions}' in cluster['beam_flags']


def test_score_on_spark_equals_the_direct_runner(scored):
    assert same_outputs.assert_same_score(scored.direct, scored.out, tol=1e-6) == SAMPLE_SIZE


def test_explore_on_spark_equals_the_direct_runner(explored):
    stats = same_outputs.assert_same_explore(explored.direct, explored.out)
    assert stats['words']['distinct'] > 1000


@pytest.mark.parametrize('job', ['preprocessed', 'scored', 'explored', 'skewed'])
def test_each_job_was_one_spark_application_that_finished(cluster, job, request):
    apps = request.getfixturevalue(job).jobs
    assert len(apps) == 1, apps  # one Beam job is one Spark application
    deadline = time.monotonic() + 60
    while _applications(cluster)[apps[0]]['state'] != 'FINISHED' and time.monotonic() < deadline:
        time.sleep(1)  # the driver stops its context just after the job reports DONE
    app = _applications(cluster)[apps[0]]
    assert app['state'] == 'FINISHED' and app['cores'] > 0, app


@pytest.mark.parametrize('job', ['preprocessed', 'scored', 'explored', 'skewed'])
def test_the_pool_started_one_sdk_worker_for_the_whole_job(job, request):
    """--environment_cache_millis: without it the executor asks for a new SDK worker (which
    imports TensorFlow again) for every task, 99 of them for one preprocess."""
    assert request.getfixturevalue(job).starts == {'worker-pool.out': 1}


def test_every_cluster_process_listens_on_loopback_only(cluster, listening, preprocessed,
                                                         scored, explored, skewed):
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


def test_the_job_server_knows_every_urn_it_must_read(cluster, preprocessed, scored, explored,
                                                     skewed):
    pipelines = [preprocessed.pipeline, scored.pipeline, explored.pipeline, skewed.pipeline]
    cluster_runs.assert_runner_knows_what_it_reads(pipelines, cluster['job_server_jar'])



def test_a_job_whose_executor_runs_out_of_memory_ends_in_one_line(tmp_path_factory):
    """The retry limit, on a cluster of its own: one partition and an executor of 480 MB (Spark
    takes no less than 450), and preprocess of 500 reviews with --max-tokens 125000, whose
    transform sends about 400 MB of token ids back in one bundle. The executor dies of
    OutOfMemoryError; Spark used to start another one without end. Now the job fails at the
    first failed task (or the master fails it at the first dead executor), the command says why
    in one line (exit 1) and publishes nothing, and nothing of the job is left running: no
    application, executor or SDK worker."""
    cluster_runs.require_java_and_maven()
    run_dir = os.environ.get('IMDB_SENTIMENT_CLUSTER_TEST_DIR') or str(
        tmp_path_factory.mktemp('small_spark'))
    config = _config(os.path.join(run_dir, 'spark-small'), executor_memory='480m', parallelism=1)
    work = tmp_path_factory.mktemp('oom')
    reviews = write_csv(str(work / 'reviews.csv'), review_rows(500))
    try:
        state = spark.up(config, log=lambda *_: None)
        done = subprocess.run(
            [sys.executable, '-m', 'pipeline.cli', 'preprocess', '--input', reviews,
             '--output', str(work / 'out'), '--max-tokens', '125000', *state['beam_flags']],
            cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 1, done.stderr[-3000:]
        said = [line for line in done.stderr.splitlines() if ' error: ' in line]
        assert len(said) == 1 and 'OutOfMemoryError' in said[0], done.stderr[-3000:]
        assert 'Traceback' not in done.stderr and sorted(os.listdir(work)) == ['reviews.csv']
        worker = f'http://127.0.0.1:{config.worker_ui_port}/json/'
        [pool] = [r['pid'] for r in cluster_runs.running_records(state)
                  if r['name'] == 'worker-pool']

        def left_running():
            """The job's applications (and its fallback's), executors and SDK workers."""
            return (processes.get_json(f'{state["web_ui"]}/json/')['activeapps'],
                    processes.get_json(worker)['executors'],
                    [p for p in processes.children(pool) if processes.alive(p)])

        deadline = time.monotonic() + 60  # the driver stops its context just after the job
        while any(left_running()) and time.monotonic() < deadline:
            time.sleep(1)
        assert left_running() == ([], [], [])
    finally:
        spark.down(config, log=lambda *_: None)
    assert not spark.running(config)
