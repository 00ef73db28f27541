"""The Beam jobs on a real Flink cluster on this machine, against the DirectRunner.

The module starts the cluster of ``make flink-up`` (``pipeline/cluster/local/flink.py``: a JobManager,
two TaskManagers with one slot each, a Python worker pool beside each, Beam's Flink job server)
on free ports under a temporary run dir, runs preprocess and score on 2,000 reviews of the
shared ``train.csv``, and ``tests/skew_pipeline.py``, with ``--runner=FlinkRunner`` and on the
DirectRunner, compares the outputs, checks through Flink's REST API that each job FINISHED with
subtasks on both TaskManagers, and stops every process it started, whatever happened. Explore is
not run on a cluster, to keep CI's time: the skew pipeline has each kind of transform it uses.

``IMDB_SENTIMENT_FLINK_RUN_DIR=.cluster/flink`` uses a cluster already started by ``make flink-up``
instead (and leaves it running). Without Java, Maven or the shared data the module skips, unless
``IMDB_SENTIMENT_REQUIRE_CLUSTER=1`` (CI), where a missing prerequisite fails.
"""

import collections
import socket

import pytest

from pipeline.cluster.local import flink, install, processes
from tests.support import cluster_runs, same_outputs
from tests.support.cluster_runs import SAMPLE_SIZE, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]


def _free_pool_port() -> int:
    """A port free on both pool addresses (127.0.0.1 and 127.0.0.2)."""
    for _ in range(20):
        port = free_port()
        try:
            with socket.socket() as s:
                s.bind(('127.0.0.2', port))
            return port
        except OSError:
            continue
    raise RuntimeError('no port free on both 127.0.0.1 and 127.0.0.2')


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    """The Flink cluster's state (cluster.json); started here unless one is given."""
    yield from cluster_runs.started_cluster(flink, 'flink', lambda run_dir: flink.ClusterConfig(
        run_dir=run_dir, rest_port=free_port(), rpc_port=free_port(), job_port=free_port(),
        artifact_port=free_port(), expansion_port=free_port(), pool_port=_free_pool_port()),
        tmp_path_factory)


def _jobs(state):
    return {j['jid']: j for j in
            processes.get_json(f'{state["web_ui"]}/jobs/overview')['jobs']}


@pytest.fixture(scope='module')
def cluster_jobs(cluster):
    return lambda: set(_jobs(cluster))


def test_preprocess_on_flink_equals_the_direct_runner(preprocessed):
    manifest = same_outputs.assert_same_preprocess(preprocessed.direct, preprocessed.out)
    assert manifest['counts']['read'] == SAMPLE_SIZE


def test_score_on_flink_equals_the_direct_runner(scored):
    assert same_outputs.assert_same_score(scored.direct, scored.out, tol=1e-6) == SAMPLE_SIZE


def _subtasks_per_taskmanager(state, jid):
    counts = collections.Counter()
    job = processes.get_json(f'{state["web_ui"]}/jobs/{jid}')
    for vertex in job['vertices']:
        placed = processes.get_json(f'{state["web_ui"]}/jobs/{jid}/vertices/{vertex["id"]}'
                                    '/taskmanagers')
        for tm in placed['taskmanagers']:
            counts[tm['taskmanager-id']] += sum(tm['status-counts'].values())
    return counts


@pytest.mark.parametrize('job', ['preprocessed', 'scored'])
def test_each_job_finished_on_flink_with_subtasks_on_both_taskmanagers(cluster, job, request):
    jids = request.getfixturevalue(job).jobs
    assert len(jids) == 1, jids  # one Beam job is one Flink job
    jobs = _jobs(cluster)
    assert jobs[jids[0]]['state'] == 'FINISHED'
    assert jobs[jids[0]]['tasks']['finished'] == jobs[jids[0]]['tasks']['total'] > 0
    placed = _subtasks_per_taskmanager(cluster, jids[0])
    taskmanagers = {tm['id'] for tm in
                    processes.get_json(f'{cluster["web_ui"]}/taskmanagers')['taskmanagers']}
    assert set(placed) == taskmanagers and len(taskmanagers) == 2, placed
    assert all(n > 0 for n in placed.values())


@pytest.mark.parametrize('job', ['preprocessed', 'scored'])
def test_each_taskmanager_kept_one_sdk_worker_for_the_whole_job(job, request):
    """Each TaskManager reached the pool its hosts file names, and that pool started one SDK
    worker for the whole job, not one per stage (--environment_cache_millis, with Beam's
    classes on the TaskManagers' class path: pipeline/cluster/local/config.py)."""
    assert request.getfixturevalue(job).starts == {'worker-pool-1.out': 1,
                                                   'worker-pool-2.out': 1}


def test_every_cluster_process_listens_on_loopback_only(cluster, listening, preprocessed,
                                                         scored, skewed):
    """The cluster's own processes, and while the jobs ran the servers of Beam's Fn API that
    the TaskManagers opened for the SDK workers and the SDK workers themselves."""
    listening.sample()
    records = cluster_runs.running_records(cluster)
    assert {r['name'] for r in records} == {
        'jobmanager', 'taskmanager-1', 'taskmanager-2', 'worker-pool-1', 'worker-pool-2',
        'job-server'}
    assert {name for name, _, _ in listening.seen} == {r['name'] for r in records}
    assert len(listening.pids_seen) > len(records)  # the SDK workers were seen too
    cluster_runs.assert_loopback(listening.seen)
    assert cluster['flink_version'] == install.FLINK_VERSION


def test_the_printed_flags_are_the_ones_the_jobs_ran_with(cluster, preprocessed):
    cluster_runs.assert_printed_flags_ran(
        cluster, preprocessed.out, flink.beam_flags(flink.ClusterConfig(**cluster['config'])))


def test_every_transform_the_jobs_use_survives_the_version_skew(skewed):
    """Beam 2.77's SDK against Beam 2.62's Flink runner (tests/support/skew_pipeline.py): the
    outputs and the counter equal the DirectRunner's."""
    assert len(skewed.jobs) == 1


def test_the_job_server_knows_every_urn_it_must_read(cluster, preprocessed, scored, skewed):
    pipelines = [preprocessed.pipeline, scored.pipeline, skewed.pipeline]
    cluster_runs.assert_runner_knows_what_it_reads(pipelines, cluster['job_server_jar'])

