"""The Beam jobs on a real Flink cluster on this machine, against the DirectRunner.

The module starts the cluster of ``make flink-up`` (``pipeline/cluster/local/flink.py``: a JobManager,
two TaskManagers with one slot each, a Python worker pool beside each, Beam's Flink job server)
on free ports under a temporary run dir, runs preprocess, score and explore on 2,000 reviews of
the shared ``train.csv`` with ``--runner=FlinkRunner`` and on the DirectRunner, compares the
outputs, checks through Flink's REST API that each job FINISHED with subtasks on both
TaskManagers, and stops every process it started, whatever happened.

``IMDB_SENTIMENT_FLINK_RUN_DIR=.cluster/flink`` uses a cluster already started by ``make flink-up``
instead (and leaves it running). Without Java, Maven or the shared data the module skips, unless
``IMDB_SENTIMENT_REQUIRE_CLUSTER=1`` (CI), where a missing prerequisite fails.
"""

import collections
import ipaddress
import os
import shutil
import socket

import pytest

from pipeline import cli
from pipeline.cluster.local import flink
from pipeline.cluster.local import install
from pipeline.cluster.local import processes
from tests import compare
from tests.datasets import SHARED_TRAIN, review_rows, write_csv
from tests.portable import listening_addresses

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

REQUIRED = os.environ.get('IMDB_SENTIMENT_REQUIRE_CLUSTER') == '1'
SAMPLE_SIZE = 2000
PREPROCESS_FLAGS = ['--max-tokens', '32', '--vocab-size', '2000', '--ngram-max', '2',
                    '--ngram-vocab-size', '5000']
SCORE_FLAGS = ['--top-k', '3', '--max-batch-size', '128']


def _unavailable(reason: str):
    if REQUIRED:
        pytest.fail(f'cluster tests are required here (IMDB_SENTIMENT_REQUIRE_CLUSTER=1): {reason}')
    pytest.skip(reason)


def _free_port(host: str = '127.0.0.1') -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _free_pool_port() -> int:
    """A port free on both pool addresses (127.0.0.1 and 127.0.0.2)."""
    for _ in range(20):
        port = _free_port()
        try:
            with socket.socket() as s:
                s.bind(('127.0.0.2', port))
            return port
        except OSError:
            continue
    raise RuntimeError('no port free on both 127.0.0.1 and 127.0.0.2')


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    """The cluster's state (cluster.json); started here unless one is given."""
    given = os.environ.get('IMDB_SENTIMENT_FLINK_RUN_DIR')
    if given:
        path = os.path.join(given, flink.STATE_FILE)
        if not os.path.exists(path):
            pytest.fail(f'IMDB_SENTIMENT_FLINK_RUN_DIR={given}: no {flink.STATE_FILE}; '
                        'run make flink-up first')
        yield compare.read_json(path)
        return
    for tool in ('java', 'mvn'):
        if not shutil.which(tool):
            _unavailable(f'{tool} is not installed')
    # CI names the run dir, so that its trap can stop the cluster even if pytest is killed.
    run_dir = os.environ.get('IMDB_SENTIMENT_CLUSTER_TEST_DIR') or str(
        tmp_path_factory.mktemp('flink_cluster'))
    config = flink.ClusterConfig(
        run_dir=run_dir, rest_port=_free_port(),
        rpc_port=_free_port(), job_port=_free_port(), artifact_port=_free_port(),
        expansion_port=_free_port(), pool_port=_free_pool_port())
    try:
        state = flink.up(config)
        yield state
    finally:
        flink.down(config, log=lambda *_: None)
    # Stopped by pid file, every one of them.
    assert not flink.running(config)


@pytest.fixture(scope='module')
def sample_csv(tmp_path_factory):
    if not os.path.exists(SHARED_TRAIN):
        _unavailable(f'the shared data is absent ({SHARED_TRAIN})')
    rows = review_rows(SAMPLE_SIZE)
    return write_csv(str(tmp_path_factory.mktemp('cluster_data') / 'reviews.csv'), rows)


def _jobs(state):
    return {j['jid']: j for j in
            processes.get_json(f'{state["web_ui"]}/jobs/overview')['jobs']}


def _run_both(state, argv, out_root):
    """The job on the DirectRunner and on the cluster; returns (direct, flink, Flink job ids)."""
    direct, on_flink = str(out_root / 'direct'), str(out_root / 'flink')
    assert cli.main(argv + ['--output', direct]) == 0
    before = set(_jobs(state))
    assert cli.main(argv + ['--output', on_flink] + state['beam_flags']) == 0
    return direct, on_flink, sorted(set(_jobs(state)) - before)


@pytest.fixture(scope='module')
def preprocessed(cluster, sample_csv, tmp_path_factory):
    return _run_both(cluster, ['preprocess', '--input', sample_csv, *PREPROCESS_FLAGS],
                     tmp_path_factory.mktemp('cluster_preprocess'))


@pytest.fixture(scope='module')
def scored(cluster, sample_csv, trained, tmp_path_factory):
    return _run_both(cluster, ['score', '--input', sample_csv, '--model', trained['model'],
                               *SCORE_FLAGS], tmp_path_factory.mktemp('cluster_score'))


@pytest.fixture(scope='module')
def explored(cluster, sample_csv, tmp_path_factory):
    return _run_both(cluster, ['explore', '--input', sample_csv],
                     tmp_path_factory.mktemp('cluster_explore'))


def test_preprocess_on_flink_equals_the_direct_runner(preprocessed):
    direct, on_flink, _ = preprocessed
    manifest = compare.assert_same_preprocess(direct, on_flink)
    assert manifest['counts']['read'] == SAMPLE_SIZE


def test_score_on_flink_equals_the_direct_runner(scored):
    direct, on_flink, _ = scored
    assert compare.assert_same_score(direct, on_flink, tol=1e-6) == SAMPLE_SIZE


def test_explore_on_flink_equals_the_direct_runner(explored):
    direct, on_flink, _ = explored
    stats = [compare.read_json(os.path.join(out, 'stats.json')) for out in (direct, on_flink)]
    compare.assert_close(stats[1], stats[0], 1e-9, 'stats')
    counts = [compare.read_json(os.path.join(out, 'manifest.json'))['counts']
              for out in (direct, on_flink)]
    assert counts[1] == counts[0] and counts[0]['read'] == SAMPLE_SIZE


def _subtasks_per_taskmanager(state, jid):
    counts = collections.Counter()
    job = processes.get_json(f'{state["web_ui"]}/jobs/{jid}')
    for vertex in job['vertices']:
        placed = processes.get_json(f'{state["web_ui"]}/jobs/{jid}/vertices/{vertex["id"]}'
                                    '/taskmanagers')
        for tm in placed['taskmanagers']:
            counts[tm['taskmanager-id']] += sum(tm['status-counts'].values())
    return counts


@pytest.mark.parametrize('job', ['preprocessed', 'scored', 'explored'])
def test_each_job_finished_on_flink_with_subtasks_on_both_taskmanagers(cluster, job, request):
    *_, jids = request.getfixturevalue(job)
    assert len(jids) == 1, jids  # one Beam job is one Flink job
    jobs = _jobs(cluster)
    assert jobs[jids[0]]['state'] == 'FINISHED'
    assert jobs[jids[0]]['tasks']['finished'] == jobs[jids[0]]['tasks']['total'] > 0
    placed = _subtasks_per_taskmanager(cluster, jids[0])
    taskmanagers = {tm['id'] for tm in
                    processes.get_json(f'{cluster["web_ui"]}/taskmanagers')['taskmanagers']}
    assert set(placed) == taskmanagers and len(taskmanagers) == 2, placed
    assert all(n > 0 for n in placed.values())


def test_each_worker_pool_ran_harnesses_for_its_own_taskmanager(cluster, preprocessed):
    """Both pools started SDK harnesses: each TaskManager reached the pool its hosts file names."""
    log_dir = os.path.join(cluster['config']['run_dir'], 'log')
    for i in (1, 2):
        with open(os.path.join(log_dir, f'worker-pool-{i}.out'), encoding='utf-8') as f:
            assert 'pipeline.cluster.sdk_harness' in f.read(), f'pool {i} started no SDK worker'


def test_every_cluster_process_listens_on_loopback_only(cluster):
    run_dir = cluster['config']['run_dir']
    records = [r for r in processes.recorded(os.path.join(run_dir, 'pids'))
               if processes.is_running(r)]
    assert {r['name'] for r in records} == {
        'jobmanager', 'taskmanager-1', 'taskmanager-2', 'worker-pool-1', 'worker-pool-2',
        'job-server'}
    for record in records:
        addresses = listening_addresses(record['pid'])
        assert addresses, record['name']
        for address in addresses:
            ip = ipaddress.ip_address(address.rsplit(':', 1)[0])
            assert (getattr(ip, 'ipv4_mapped', None) or ip).is_loopback, (record['name'], address)
    assert cluster['flink_version'] == install.FLINK_VERSION


def test_the_printed_flags_are_the_ones_the_jobs_ran_with(cluster, preprocessed):
    _, on_flink, _ = preprocessed
    manifest = compare.read_json(os.path.join(on_flink, 'manifest.json'))
    for flag in cluster['beam_flags']:
        assert flag in manifest['beam_args']
    assert cluster['beam_flags'] == flink.beam_flags(flink.ClusterConfig(**cluster['config']))
