import os

import pytest

# Keep TensorFlow's C++ start-up messages out of test output.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

# pytest.ini's -n auto: one test process per core this process may use, at most MAX_WORKERS
# (each may run a whole job with TensorFlow, about 1.5 GB), and at least two, so that a test
# that waits on a subprocess or a cluster leaves the other core to another test.
MAX_WORKERS = 4


def pytest_xdist_auto_num_workers(config):
    return max(2, min(MAX_WORKERS, len(os.sched_getaffinity(0))))


# The modules that take minutes, slowest first: pytest.ini hands modules to the test processes
# in the order collected (--no-loadscope-reorder), so these start at once instead of last,
# where one of them alone would keep the run going with the other cores idle.
SLOW_FIRST = ('tests/test_crash_consistency.py', 'tests/test_cluster_spark.py',
              'tests/test_cluster.py', 'tests/benchmarks/test_benchmarks.py',
              'tests/test_object_storage.py', 'tests/pipeline/jobs/test_run.py',
              'tests/test_object_storage_history.py')


def pytest_collection_modifyitems(config, items):
    def rank(item):
        path = item.nodeid.split('::')[0]
        return SLOW_FIRST.index(path) if path in SLOW_FIRST else len(SLOW_FIRST)
    items.sort(key=rank)   # stable: each module keeps its own order


@pytest.fixture(scope='session')
def trained(tmp_path_factory):
    """A real preprocess + one-epoch train on 240 generated reviews (about 20 s).

    Made once in each test process: tests read these folders and write only into copies.
    """
    from pipeline import cli
    from tests.support.processes import TINY_MODEL
    from tests.support.datasets import generated_reviews, write_csv
    root = tmp_path_factory.mktemp('trained')
    rows = generated_reviews(240, seed=1)
    data = write_csv(str(root / 'reviews.csv'), rows)
    pre, model = str(root / 'preprocess'), str(root / 'model')
    assert cli.main(['preprocess', '--input', data, '--output', pre, '--max-tokens', '32']) == 0
    assert cli.main(['train', '--data', pre, '--output', model, '--epochs', '1', *TINY_MODEL]) == 0
    return {'csv': data, 'rows': rows, 'preprocess': pre, 'model': model}


@pytest.fixture()
def user_folder(tmp_path):
    """A user's folder: their reviews and their notes."""
    from tests.support.datasets import write_csv
    folder = tmp_path / 'v'
    folder.mkdir()
    write_csv(str(folder / 'base.csv'), [('good film', 'positive'), ('bad film', 'negative')])
    (folder / 'notes.txt').write_text('my notes')
    return folder


# --- The cluster tests' jobs (test_cluster.py: Flink, test_cluster_spark.py: Spark) ----------
# Each of those modules starts its engine's cluster (fixture ``cluster``: its cluster.json) and
# lists its jobs (``cluster_jobs``); these run the same jobs on it, held to the DirectRunner's
# (tests/support/cluster_runs.py), once per module.

@pytest.fixture(scope='module')
def listening(cluster):
    """Where the cluster's processes listen, watched while the module's jobs run."""
    from tests.support import cluster_runs
    watch = cluster_runs.ListenWatch(os.path.join(cluster['config']['run_dir'], 'pids'))
    watch.start()
    yield watch
    watch.stop()


@pytest.fixture(scope='module')
def preprocessed(cluster, cluster_jobs, listening, tmp_path_factory):
    from tests.support import cluster_runs
    return cluster_runs.run_job('preprocess', cluster, cluster_jobs, tmp_path_factory)


@pytest.fixture(scope='module')
def scored(cluster, cluster_jobs, listening, trained, tmp_path_factory):
    from tests.support import cluster_runs
    return cluster_runs.run_job('score', cluster, cluster_jobs, tmp_path_factory,
                                trained['model'])


@pytest.fixture(scope='module')
def explored(cluster, cluster_jobs, listening, tmp_path_factory):
    from tests.support import cluster_runs
    return cluster_runs.run_job('explore', cluster, cluster_jobs, tmp_path_factory)


@pytest.fixture(scope='module')
def skewed(cluster, cluster_jobs, listening, trained, tmp_path_factory):
    """tests/support/skew_pipeline.py on the cluster, held to the DirectRunner's run."""
    from tests.support import cluster_runs
    return cluster_runs.run_skew_pipeline(cluster, cluster_jobs, trained['model'],
                                          tmp_path_factory)
