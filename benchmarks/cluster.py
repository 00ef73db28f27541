"""Preprocess and score on the local Flink cluster (two TaskManagers) against the DirectRunner.

  .venv/bin/python benchmarks/cluster.py [--input ../shared/data/imdb/train.csv] [--limit N]

Starts a fresh cluster (``pipeline/cluster/local/flink.py``) on free ports under a temporary run dir,
so that the JVMs' peaks belong to these jobs. Runs preprocess on the DirectRunner and then on
Flink; trains a small model (one epoch, small layers: the runners are compared, not the model)
on the DirectRunner's output unless ``--model`` is given; then score on both runners. Every
0.5 s it samples the resident memory of the job's own process (the launcher that builds and
submits the pipeline; on the DirectRunner it also does all the work), of each cluster JVM
(JobManager, TaskManagers, job server) and of each worker pool with the SDK harnesses it
started. Wall time is the job command's, start to exit. Checks that both runners agree on
the counts, then writes benchmarks/results/cluster.json.
"""

import argparse
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from measure import process_tree, rss_mb, write_json  # noqa: E402
from pipeline.cluster.local import flink, processes  # noqa: E402
from transforms.jsonio import utc_now, versions  # noqa: E402

_BIN = os.path.join(os.path.dirname(sys.executable), 'imdb-sentiment')
_RESULTS = os.path.join(os.path.dirname(__file__), 'results', 'cluster.json')
_TINY_MODEL = ['--epochs', '1', '--embedding-dim', '32', '--lstm-units', '32',
               '--dense-units', '16']


class MemorySampler(threading.Thread):
    """Peak resident memory (MB) of named process trees, sampled every ``interval`` seconds."""

    def __init__(self, roots: Dict[str, int], interval: float = 0.5):
        super().__init__(daemon=True)
        self.roots, self.interval = dict(roots), interval
        self.peak = {name: 0.0 for name in roots}
        self.peak_harness = {name: 0.0 for name in roots}  # largest single child process
        self.harnesses = {name: set() for name in roots}
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            for name, root in self.roots.items():
                tree = process_tree(root)
                self.peak[name] = max(self.peak[name], sum(rss_mb(p) for p in tree))
                for child in tree[1:]:
                    self.harnesses[name].add(child)
                    self.peak_harness[name] = max(self.peak_harness[name], rss_mb(child))
            self._done.wait(self.interval)

    def stop(self) -> Dict[str, Dict]:
        self._done.set()
        self.join()
        return {name: {'peak_rss_mb': round(self.peak[name]),
                       'processes_started': len(self.harnesses[name]),
                       'peak_single_child_rss_mb': round(self.peak_harness[name])}
                for name in self.roots}


def run_job(argv: List[str], cluster_pids: Dict[str, int], done: Dict, key: str) -> Dict:
    """Runs ``imdb-sentiment ARGV``, sampling it and the cluster; returns the measurements.
    A run recorded in ``done`` under ``key`` (same --work, an earlier attempt) is not repeated."""
    if key in done:
        return done[key]
    start = time.perf_counter()
    proc = subprocess.Popen([_BIN, *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    sampler = MemorySampler({'job': proc.pid, **cluster_pids})
    sampler.start()
    output, _ = proc.communicate()
    seconds = time.perf_counter() - start
    memory = sampler.stop()
    if proc.returncode:
        raise RuntimeError(f'{argv[0]} failed ({proc.returncode}):\n{output[-4000:]}')
    done[key] = {'wall_s': round(seconds, 1), 'memory': memory}
    with open(done['_path'], 'w') as f:
        json.dump(done, f, indent=2)
    return done[key]


def _counts(out: str) -> Dict:
    with open(os.path.join(out, 'manifest.json'), encoding='utf-8') as f:
        return json.load(f)['counts']


def _free_port(host: str = '127.0.0.1') -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _subset(path: str, limit: int, work: str) -> str:
    if not limit:
        return path
    subset = os.path.join(work, f'reviews-{limit}.csv')
    with open(path, encoding='utf-8') as src, open(subset, 'w', encoding='utf-8') as dst:
        for line in itertools.islice(src, limit + 1):  # one record a line, plus the header
            dst.write(line)
    return subset


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--input', default=os.path.join(os.path.dirname(__file__), '..', '..',
                                                        'shared', 'data', 'imdb', 'train.csv'))
    parser.add_argument('--limit', type=int, default=0, help='First N reviews only.')
    parser.add_argument('--model', help='A trained model for score (default: train a small one).')
    parser.add_argument('--work', default=tempfile.mkdtemp(prefix='cluster-bench-'))
    parser.add_argument('--out', default=_RESULTS)
    args = parser.parse_args(argv)
    data = _subset(os.path.abspath(args.input), args.limit, args.work)
    partial = os.path.join(args.work, 'partial.json')
    done = {'_path': partial}
    if os.path.exists(partial):
        with open(partial) as f:
            done = json.load(f)
    config = flink.ClusterConfig(
        run_dir=os.path.join(args.work, 'cluster'), rest_port=_free_port(),
        rpc_port=_free_port(), job_port=_free_port(), artifact_port=_free_port(),
        expansion_port=_free_port(), pool_port=_free_port())
    results = {'created': utc_now(), 'input': args.input, 'limit': args.limit or None,
               'versions': versions(), 'jobs': {}}
    started = time.perf_counter()
    state = flink.up(config)
    results['cluster_start_s'] = round(time.perf_counter() - started, 1)
    results['cluster'] = {k: state[k] for k in ('flink_version', 'beam_job_server_version',
                                                'beam_flags')}
    pids = {r['name']: r['pid'] for r in flink.running(config)}
    try:
        jobs = {'preprocess': ['preprocess', '--input', data]}
        outs = {}
        for job, base in jobs.items():
            for runner, extra in (('direct', []), ('flink', state['beam_flags'])):
                out = outs[job, runner] = os.path.join(args.work, job, runner)
                print(f'{job} on {runner}...', flush=True)
                results['jobs'].setdefault(job, {})[runner] = run_job(
                    base + ['--output', out] + extra, pids if runner == 'flink' else {},
                    done, f'{job}/{runner}')
            assert _counts(outs[job, 'flink']) == _counts(outs[job, 'direct']), job
        model = args.model
        if not model:
            model = os.path.join(args.work, 'model')
        if not os.path.exists(os.path.join(model, 'saved_model.pb')):
            print('training a small model...', flush=True)
            subprocess.run([_BIN, 'train', '--data', outs['preprocess', 'direct'], '--output',
                            model, *_TINY_MODEL], check=True, capture_output=True)
        for runner, extra in (('direct', []), ('flink', state['beam_flags'])):
            out = outs['score', runner] = os.path.join(args.work, 'score', runner)
            print(f'score on {runner}...', flush=True)
            results['jobs'].setdefault('score', {})[runner] = run_job(
                ['score', '--input', data, '--model', model, '--output', out, '--no-explain']
                + extra, pids if runner == 'flink' else {}, done, f'score/{runner}')
        assert _counts(outs['score', 'flink']) == _counts(outs['score', 'direct'])
        results['reviews'] = _counts(outs['preprocess', 'direct'])['read']
        results['flink_jobs'] = processes.get_json(
            f'{state["web_ui"]}/jobs/overview')['jobs']
    finally:
        flink.down(config, log=lambda *_: None)
    write_json(args.out, results)
    print(json.dumps({job: {r: v['wall_s'] for r, v in runs.items()}
                      for job, runs in results['jobs'].items()}))


if __name__ == '__main__':
    main()
