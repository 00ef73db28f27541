"""What the cluster tests of both engines share (``test_cluster.py``, ``test_cluster_spark.py``).

The 2,000-review sample and the DirectRunner's outputs are made once per session and compared
with each engine's; a missing prerequisite skips, or fails under
``IMDB_SENTIMENT_REQUIRE_CLUSTER=1`` (CI); ``ListenWatch`` records, while the jobs run, where
every process of a cluster listens (the executors and SDK workers its processes start
included); ``worker_starts`` counts the SDK workers a pool started.
"""

import contextlib
import dataclasses
import os
import shutil
import socket
import threading
from typing import Callable, Dict, Iterator, List, Set
from unittest import mock

import pytest

from pipeline import cli
from pipeline.cluster.local import processes, urns
from tests.support import same_outputs, skew_pipeline
from tests.support.datasets import SHARED_TRAIN, review_rows, write_csv
from tests.support.portable import listening_addresses

REQUIRED = os.environ.get('IMDB_SENTIMENT_REQUIRE_CLUSTER') == '1'
SAMPLE_SIZE = 2000
PREPROCESS_FLAGS = ['--max-tokens', '32', '--vocab-size', '2000', '--ngram-max', '2',
                    '--ngram-vocab-size', '5000']
SCORE_FLAGS = ['--top-k', '3', '--max-batch-size', '128']

_SESSION: Dict = {}


def unavailable(reason: str):
    if REQUIRED:
        pytest.fail(f'cluster tests are required here (IMDB_SENTIMENT_REQUIRE_CLUSTER=1): {reason}')
    pytest.skip(reason)


def require_java_and_maven() -> None:
    for tool in ('java', 'mvn'):
        if not shutil.which(tool):
            unavailable(f'{tool} is not installed')


def started_cluster(engine, name: str, make_config: Callable[[str], object],
                    tmp_path_factory) -> Iterator[Dict]:
    """A test module's cluster of ``engine`` (flink or spark): its state (cluster.json).

    One named by ``IMDB_SENTIMENT_<NAME>_RUN_DIR`` is used as it is; otherwise one is started
    from ``make_config(run_dir)`` and stopped by pid file at the end, every process of it.
    """
    variable = f'IMDB_SENTIMENT_{name.upper()}_RUN_DIR'
    given = os.environ.get(variable)
    if given:
        path = os.path.join(given, engine.STATE_FILE)
        if not os.path.exists(path):
            pytest.fail(f'{variable}={given}: no {engine.STATE_FILE}; run make {name}-up first')
        yield same_outputs.read_json(path)
        return
    require_java_and_maven()
    # CI names the run dir, so that its trap can stop the cluster even if pytest is killed.
    run_dir = os.environ.get('IMDB_SENTIMENT_CLUSTER_TEST_DIR') or str(
        tmp_path_factory.mktemp(f'{name}_cluster'))
    config = make_config(os.path.join(run_dir, name))
    try:
        yield engine.up(config)
    finally:
        engine.down(config, log=lambda *_: None)
    assert not engine.running(config)


def running_records(state: Dict) -> List[Dict]:
    """The pid records of the cluster's processes that still run."""
    return [r for r in processes.recorded(os.path.join(state['config']['run_dir'], 'pids'))
            if processes.is_running(r)]


def assert_printed_flags_ran(state: Dict, job_out: str, printed: List[str]) -> None:
    """The flags ``up`` printed are those the job ran with, and the ones its config prints."""
    manifest = same_outputs.read_json(os.path.join(job_out, 'manifest.json'))
    assert [flag for flag in state['beam_flags'] if flag not in manifest['beam_args']] == []
    assert state['beam_flags'] == printed


def free_port(host: str = '127.0.0.1') -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def sample_csv(tmp_path_factory) -> str:
    """The first 2,000 reviews of the shared train.csv, written once per session."""
    if 'sample' not in _SESSION:
        if not os.path.exists(SHARED_TRAIN):
            unavailable(f'the shared data is absent ({SHARED_TRAIN})')
        folder = tmp_path_factory.mktemp('cluster_data')
        _SESSION['sample'] = write_csv(str(folder / 'reviews.csv'), review_rows(SAMPLE_SIZE))
    return _SESSION['sample']


def direct(argv: List[str], tmp_path_factory) -> str:
    """The job's output on the DirectRunner, run once per session for every engine."""
    key = ('direct', *argv)
    if key not in _SESSION:
        out = str(tmp_path_factory.mktemp(f'direct_{argv[0]}') / 'out')
        assert cli.main(argv + ['--output', out]) == 0
        _SESSION[key] = out
    return _SESSION[key]


def worker_starts(log_dir: str) -> Dict[str, int]:
    """How many SDK workers each worker pool of a run dir has started so far, by log name."""
    counts = {}
    for name in sorted(os.listdir(log_dir)):
        if name.startswith('worker-pool') and name.endswith('.out'):
            with open(os.path.join(log_dir, name), encoding='utf-8', errors='replace') as f:
                counts[name] = sum('Starting worker' in line for line in f)
    return counts


def descendants(pid: int) -> List[int]:
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        found.append(p)
        frontier += processes.children(p)
    return found


class ListenWatch(threading.Thread):
    """Every ``interval`` s, where each recorded process of a run dir and its descendants
    listen: {(process name, pid, address)}."""

    def __init__(self, pid_dir: str, interval: float = 1.0):
        super().__init__(daemon=True)
        self.pid_dir, self.interval = pid_dir, interval
        self.seen: Set = set()
        self.pids_seen: Set[int] = set()
        self._done = threading.Event()

    def sample(self) -> None:
        for record in processes.recorded(self.pid_dir):
            if not processes.is_running(record):
                continue
            for pid in descendants(record['pid']):
                try:
                    addresses = listening_addresses(pid)
                except OSError:  # it ended meanwhile
                    continue
                self.pids_seen.add(pid)
                self.seen.update((record['name'], pid, a) for a in addresses)

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._done.set()
        self.join()


def assert_loopback(seen: Set) -> None:
    import ipaddress
    for name, pid, address in seen:
        ip = ipaddress.ip_address(address.rsplit(':', 1)[0])
        assert (getattr(ip, 'ipv4_mapped', None) or ip).is_loopback, (name, pid, address)


@contextlib.contextmanager
def capture_submitted() -> Iterator[List]:
    """Within it, every pipeline proto that a PortableRunner submits is appended to the list."""
    from apache_beam.runners.portability.portable_runner import JobServiceHandle
    submitted, submit = [], JobServiceHandle.submit

    def recording(handle, proto_pipeline):
        submitted.append(proto_pipeline)
        return submit(handle, proto_pipeline)

    with mock.patch.object(JobServiceHandle, 'submit', recording):
        yield submitted


@dataclasses.dataclass
class ClusterRun:
    direct: str          # the DirectRunner's output
    out: str             # the cluster's
    jobs: List[str]      # the cluster's new job (Flink) or application (Spark) ids
    starts: Dict[str, int]   # SDK workers started, by pool log
    pipeline: object     # the pipeline proto the job server received


def _on_cluster(state: Dict, jobs: Callable[[], Set[str]], submit: Callable[[], None],
                direct_out: str, out: str) -> ClusterRun:
    """``submit()`` on the cluster of ``state``, with what it added there."""
    log_dir = os.path.join(state['config']['run_dir'], 'log')
    before, starts = jobs(), worker_starts(log_dir)
    with capture_submitted() as submitted:
        submit()
    after = worker_starts(log_dir)
    return ClusterRun(direct_out, out, sorted(jobs() - before),
                      {k: after[k] - starts.get(k, 0) for k in after}, submitted[-1])


def run_job(job: str, state: Dict, jobs: Callable[[], Set[str]], tmp_path_factory,
            model: str = '') -> ClusterRun:
    """``job`` (preprocess, explore, or score with ``model``) on the sample, on the DirectRunner
    (once per session) and on the cluster of ``state`` (its cluster.json) with the flags it
    printed; ``jobs()`` lists the cluster's job (Flink) or application (Spark) ids."""
    sample = sample_csv(tmp_path_factory)
    argv = {'preprocess': ['preprocess', '--input', sample, *PREPROCESS_FLAGS],
            'explore': ['explore', '--input', sample],
            'score': ['score', '--input', sample, '--model', model, *SCORE_FLAGS]}[job]
    out = str(tmp_path_factory.mktemp(f'cluster_{job}') / 'out')
    expected = direct(argv, tmp_path_factory)

    def submit():
        assert cli.main(argv + ['--output', out] + state['beam_flags']) == 0

    return _on_cluster(state, jobs, submit, expected, out)


def run_skew_pipeline(state: Dict, jobs: Callable[[], Set[str]], model: str,
                      tmp_path_factory) -> ClusterRun:
    """``tests/skew_pipeline.py`` on the cluster of ``state``, held to its DirectRunner run
    (once per session): the same outputs and the same counter."""
    if 'skew' not in _SESSION:
        out = str(tmp_path_factory.mktemp('skew_direct'))
        _SESSION['skew'] = out, skew_pipeline.run([], out, model)
    direct_out, expected = _SESSION['skew']
    out, got = str(tmp_path_factory.mktemp('skew_cluster')), {}

    def submit():
        got.update(skew_pipeline.run(state['beam_flags'], out, model))

    run = _on_cluster(state, jobs, submit, direct_out, out)
    assert got['state'] == expected['state'] == 'DONE'
    same_outputs.assert_close(got['outputs'], expected['outputs'], 1e-6, 'skew')
    # Counters travel from the SDK worker (2.77) through the runner (2.62) to the job API.
    assert got['words_counted'] == expected['words_counted'] > 0
    return run


def assert_runner_knows_what_it_reads(pipelines: List, jar: str) -> Dict[str, Set[str]]:
    """Every URN the runner itself must understand in these pipelines is one its job server's
    model (Beam 2.62) names; returns, by kind, the URNs it does not name (coders and SDK-side
    transforms: opaque to the runner, which is fine)."""
    known = urns.jar_urns(jar)
    unknown = {}
    for pipeline in pipelines:
        for kind, found in urns.used(pipeline).items():
            unknown.setdefault(kind, set()).update(found - known)
    for kind in urns.RUNNER_READS:
        assert not unknown[kind], (kind, unknown[kind])
    return {kind: found for kind, found in unknown.items() if found}
