"""Exit codes a scheduler can trust: signals, and two runs for the same output."""

import multiprocessing
import os
import signal
import time

import pytest

from tests.support.datasets import generated_reviews, write_csv
from transforms.errors import OutputLocked
from pipeline.runtime.publish import StagedOutput
from pipeline.runtime.local_cores import alive, descendants
from tests.support.processes import sdk_workers, start, wait_for

pytestmark = pytest.mark.e2e



def _signal_mid_job(proc, ready, signum):
    """Sends ``signum`` to the job 3 s after ``ready()`` holds (into its work); -> (its
    stderr, the processes below it just before the signal)."""
    try:
        assert wait_for(lambda: ready() or proc.poll() is not None, 240)
        time.sleep(3)
        assert proc.poll() is None, 'the job ended before the signal: ' + \
            proc.stderr.read().decode()[-3000:]
        tree = descendants(proc.pid)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return err.decode(), tree


@pytest.mark.parametrize('signum, code, word', [(signal.SIGTERM, 143, 'terminated'),
                                                (signal.SIGINT, 130, 'interrupted')])
def test_a_signal_mid_job_removes_the_staging_folder_and_exits_128_plus_n(
        trained, tmp_path, signum, code, word):
    data = write_csv(str(tmp_path / 'many.csv'), generated_reviews(20000, seed=3))
    out = tmp_path / 'score'
    proc = start(['score', '--input', data, '--model', trained['model'], '--output', str(out),
                   '--no-explain'])
    err, _ = _signal_mid_job(
        proc, lambda: any(n.startswith('score.partial-') for n in os.listdir(tmp_path)), signum)
    assert proc.returncode == code, err[-3000:]
    assert f'score: {word}' in err and 'Traceback' not in err
    assert sorted(os.listdir(tmp_path)) == ['many.csv']


@pytest.mark.parametrize('signum, code', [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_every_worker_process_and_publishes_nothing(tmp_path, signum, code):
    data = write_csv(str(tmp_path / 'many.csv'), generated_reviews(3000, seed=5))
    out = tmp_path / 'out'
    out.mkdir()   # an earlier output: it must stay as it is
    (out / 'manifest.json').write_text('{"job": "preprocess", "status": "ok"}')
    (out / 'vocab.txt').write_text('old\n')
    proc = start(['preprocess', '--input', data, '--output', str(out),
                  '--direct_num_workers=2', '--max-reject-fraction', '0.5'])
    err, tree = _signal_mid_job(proc, lambda: len(sdk_workers(proc.pid)) == 2, signum)
    assert len(tree) >= 4, tree   # two shells, a worker below each
    assert proc.returncode == code, err[-3000:]
    assert 'no output was published' in err and 'Traceback' not in err, err[-3000:]
    assert [pid for pid in tree if alive(pid)] == []
    assert sorted(os.listdir(tmp_path)) == ['many.csv', 'out']
    assert sorted(os.listdir(out)) == ['manifest.json', 'vocab.txt']
    assert (out / 'vocab.txt').read_text() == 'old\n'


def _publish(path, barrier, results):
    barrier.wait()
    try:
        with StagedOutput(path) as out:
            with open(os.path.join(out.path, 'manifest.json'), 'w') as f:
                f.write('{"job": "test", "pid": %d}' % os.getpid())
            time.sleep(0.05)
            out.publish()
        results.put('published')
    except OutputLocked:
        results.put('locked')
    except Exception as e:  # noqa: BLE001 - any other outcome is the failure under test
        results.put(f'{type(e).__name__}: {e}')


def test_simultaneous_publishes_of_one_output_never_race(tmp_path):
    path = str(tmp_path / 'out')
    ctx = multiprocessing.get_context('fork')
    n = 10
    barrier, results = ctx.Barrier(n), ctx.Queue()
    for _ in range(20):
        procs = [ctx.Process(target=_publish, args=(path, barrier, results)) for _ in range(n)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        outcomes = [results.get(timeout=10) for _ in range(n)]
        assert set(outcomes) <= {'published', 'locked'}, outcomes
        assert 'published' in outcomes
        assert os.listdir(path) == ['manifest.json']
    assert sorted(os.listdir(tmp_path)) == ['out']


