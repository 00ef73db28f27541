"""How long do preprocess and score take, and how much memory, on a local Flink or Spark cluster?

  python -m benchmarks cluster_engines [--input ../shared/data/imdb/train.csv] [--limit N] \\
      [--model DIR] [--variant direct --variant flink-per-stage --variant flink \\
      --variant spark] [--beam-flag=--parallelism=16 ...] [--taskmanager-memory SIZE] \\
      [--executor-memory SIZE] [--spark-parallelism N] [--job preprocess|score] [--compare] \
      [--work DIR] [--dry-run]

Each cluster variant starts a fresh cluster on free ports (so that its JVMs' peaks belong to
these jobs), runs preprocess (defaults) and then score (``--no-explain``, the model of
``--model`` or a small one trained once on the DirectRunner), and stops it. ``direct`` is
the DirectRunner. ``flink-per-stage`` is the Flink cluster as it was before: Beam's classes
only in the job's jar, no ``--environment_cache_millis``; ``flink`` and ``spark`` are ``make
flink-up`` and ``make spark-up`` with the flags they print. Per job it records the wall time
of the command, the engine's own job time (Flink's REST API, Spark's ``/json/``), the SDK
workers each pool started (its log), and the peak resident memory of each process tree
sampled every 0.5 s (the launcher, each JVM with the executors it starts, each pool with its
SDK workers). Between two jobs it waits until the pools' idle SDK workers have ended (the
environment cache keeps them up to its TTL after a job) and records how long that took.
``--job`` runs one of the two only (a 1M score need not wait for a 1M preprocess).
Results of a ``--work`` folder are reused by a rerun (``partial.json``), so an interrupted run
resumes; ``--repeat`` measures each variant again (``variant#2``). ``--compare`` holds each
cluster run's outputs to the DirectRunner's, as the cluster tests do. ``--dry-run`` prints
each variant's job command lines, with the flags its cluster would print, and starts nothing.
Writes results/cluster_engines.json (--out).
"""

import json
import os
import subprocess
import tempfile
import time
from typing import Dict, List, Optional, Sequence

from benchmarks import common
from pipeline.cluster.local import flink, lifecycle, processes, spark

VARIANTS = ('direct', 'flink-per-stage', 'flink', 'spark')


def run_job(argv: List[str], cluster_pids: Dict[str, int], done: Dict, key: str) -> Dict:
    """Runs ``imdb-sentiment ARGV``, sampling it and the cluster; returns the measurements.
    A run recorded in ``done`` under ``key`` (same --work, an earlier attempt) is not repeated."""
    if key in done:
        return done[key]
    start = time.perf_counter()
    proc = subprocess.Popen(common.job_command(*argv), env=common.checkout_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = common.MemorySampler({'job': proc.pid, **cluster_pids})
    sampler.start()
    output, _ = proc.communicate()
    seconds = time.perf_counter() - start
    memory = sampler.stop()
    if proc.returncode:
        raise RuntimeError(f'{argv[0]} failed ({proc.returncode}):\n{output[-4000:]}')
    done[key] = {'wall_s': round(seconds, 1), 'memory': memory}
    _save(done)
    return done[key]


def _save(done: Dict) -> None:
    with open(done['_path'], 'w') as f:
        json.dump(done, f, indent=2)


def _config(variant: str, run_dir: str, taskmanager_memory: str = '',
            spark_settings: Optional[Dict] = None):
    """The cluster of ``variant``; ``spark_settings``: SparkConfig fields given (its executor
    memory, its parallelism), the rest make spark-up's."""
    free = common.free_port
    ports = {name: free() for name in ('job_port', 'artifact_port', 'expansion_port',
                                       'pool_port')}
    if variant == 'spark':
        return spark.SparkConfig(run_dir=run_dir, master_port=free(), web_ui_port=free(),
                                 worker_ui_port=free(), driver_ui_port=free(), **ports,
                                 **(spark_settings or {}))
    return flink.ClusterConfig(run_dir=run_dir, rest_port=free(), rpc_port=free(),
                               beam_on_taskmanager_classpath=variant == 'flink',
                               **({'taskmanager_memory': taskmanager_memory}
                                  if taskmanager_memory else {}), **ports)


def _flags(variant: str, state: Dict, extra: List[str] = ()) -> List[str]:
    """The Beam flags the cluster printed, less those ``extra`` gives again, plus ``extra``."""
    flags = state['beam_flags']
    if variant == 'flink-per-stage':  # the flags flink-up printed before
        flags = [f for f in flags if not f.startswith('--environment_cache_millis')]
    given = {f.split('=', 1)[0] for f in extra}
    return [f for f in flags if f.split('=', 1)[0] not in given] + list(extra)


def _engine_jobs(variant: str, state: Dict) -> Dict[str, Dict]:
    """id -> {name, seconds} of the engine's own jobs (Flink jobs, Spark applications)."""
    if variant == 'spark':
        page = processes.get_json(f'{state["web_ui"]}/json/') or {}
        return {a['id']: {'name': a['name'], 'seconds': round(a['duration'] / 1000, 1)}
                for a in page.get('completedapps', [])}
    page = processes.get_json(f'{state["web_ui"]}/jobs/overview') or {}
    return {j['jid']: {'name': j['name'], 'seconds': round(j['duration'] / 1000, 1)}
            for j in page.get('jobs', [])}


def _worker_starts(log_dir: str) -> int:
    starts = 0
    for name in os.listdir(log_dir):
        if name.startswith('worker-pool'):
            with open(os.path.join(log_dir, name), encoding='utf-8', errors='replace') as f:
                starts += sum('Starting worker' in line for line in f)
    return starts


def _wait_for_idle_workers(pools: List[int], timeout: float = 120) -> float:
    """Seconds until no pool has a live SDK worker left (an ended one may stay a zombie)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if not any(processes.alive(p) for pool in pools
                   for p in common.process_tree(pool)[1:]):
            break
        time.sleep(1)
    return round(time.perf_counter() - started, 1)


def run_variant(variant: str, key: str, jobs: Dict[str, List[str]], work: str,
                done: Dict, taskmanager_memory: str = '', beam_flags: List[str] = (),
                spark_settings: Optional[Dict] = None) -> Dict:
    """Every job of ``jobs`` on one fresh cluster of ``variant`` (or on the DirectRunner)."""
    if variant == 'direct':
        return {job: run_job(argv + ['--output', os.path.join(work, key, job)], {}, done,
                             f'{key}/{job}') for job, argv in jobs.items()}
    if all(f'{key}/{job}' in done for job in jobs):
        return {job: done[f'{key}/{job}'] for job in jobs}
    engine = spark if variant == 'spark' else flink
    config = _config(variant, os.path.join(work, key, 'cluster'), taskmanager_memory,
                     spark_settings)
    started = time.perf_counter()
    state = engine.up(config)
    found = {'cluster_start_s': round(time.perf_counter() - started, 1)}
    try:
        pids = {r['name']: r['pid'] for r in lifecycle.running(config)}
        pools = [pid for name, pid in pids.items() if name.startswith('worker-pool')]
        for job, argv in jobs.items():
            if f'{key}/{job}' in done:  # measured by an earlier, interrupted attempt
                found[job] = done[f'{key}/{job}']
                continue
            before, starts = set(_engine_jobs(variant, state)), _worker_starts(config.log_dir)
            print(f'{job} on {key}...', flush=True)
            result = run_job(argv + ['--output', os.path.join(work, key, job)]
                             + _flags(variant, state, beam_flags), pids, done, f'{key}/{job}')
            time.sleep(5)  # the engine records its job's end just after the client's
            result['engine_jobs'] = [v for k, v in _engine_jobs(variant, state).items()
                                     if k not in before]
            result['sdk_workers_started'] = _worker_starts(config.log_dir) - starts
            result['idle_workers_ended_after_s'] = _wait_for_idle_workers(pools)
            found[job] = result
            _save(done)
        found['beam_flags'] = _flags(variant, state, beam_flags)
    finally:
        engine.down(config, log=lambda *_: None)
    return found


def compare_outputs(direct: str, other: str) -> Dict[str, object]:
    """Each job's outputs under ``other`` against the DirectRunner's under ``direct``, as the
    cluster tests compare them (``tests/support/same_outputs.py``): for preprocess, the
    vocabularies and assets byte for byte, every transformed example, the counts; for score,
    every prediction (the probability within 1e-6), the metrics and the counts.
    -> {job: True, or what differed}."""
    from tests.support import same_outputs
    found = {}
    for job, check in (('preprocess', same_outputs.assert_same_preprocess),
                       ('score', same_outputs.assert_same_score)):
        if not os.path.isdir(os.path.join(direct, job)):
            continue
        try:
            check(os.path.join(direct, job), os.path.join(other, job))
            found[job] = True
        except AssertionError as e:
            found[job] = f'differs: {e}'
    return found


def plan(variants: Sequence[str], jobs: Dict[str, List[str]], work: str,
         taskmanager_memory: str = '', beam_flags: Sequence[str] = (),
         spark_settings: Optional[Dict] = None) -> Dict[str, Dict]:
    """{variant: {job: its command line}}, with the flags each cluster would print: what a
    run would do, with no cluster started and nothing run."""
    found = {}
    for variant in variants:
        extra = []
        if variant != 'direct':
            engine = spark if variant == 'spark' else flink
            config = _config(variant, os.path.join(work, variant, 'cluster'), taskmanager_memory,
                             spark_settings)
            extra = _flags(variant, {'beam_flags': engine.beam_flags(config)}, beam_flags)
        found[variant] = {job: common.shown(common.job_command(
            *argv, '--output', os.path.join(work, variant, job), *extra))
            for job, argv in jobs.items()}
    return found


def main(argv: Sequence[str]) -> int:
    parser = common.parser('cluster_engines', __doc__)
    parser.add_argument('--input', default=common.TRAIN_CSV)
    parser.add_argument('--limit', type=int, default=0, help='First N reviews only.')
    parser.add_argument('--model', help='A trained model for score (default: train a small one).')
    parser.add_argument('--variant', action='append', choices=VARIANTS,
                        help='What to run (repeatable; default all, in this order: '
                             f'{", ".join(VARIANTS)}).')
    parser.add_argument('--repeat', type=int, default=1, help='Rounds of all variants.')
    parser.add_argument('--work', default=None, help='Work folder (default: a new one in /tmp).')
    parser.add_argument('--taskmanager-memory', default='',
                        help='Each Flink TaskManager\'s process size (default: make flink-up\'s).')
    parser.add_argument('--executor-memory', default='',
                        help='The Spark executor\'s memory (default: make spark-up\'s).')
    parser.add_argument('--spark-parallelism', type=int, default=0,
                        help='The Spark cluster\'s default parallelism, its partitions (default: '
                             'make spark-up\'s); the jobs are told it, as spark-up prints.')
    parser.add_argument('--beam-flag', action='append', default=[], metavar='--NAME=VALUE',
                        help='A Beam flag for the cluster jobs, in place of the one the cluster '
                             'printed (repeatable), e.g. --beam-flag=--parallelism=8.')
    parser.add_argument('--job', action='append', choices=('preprocess', 'score'),
                        help='Which job to run (repeatable; default both, preprocess first).')
    parser.add_argument('--compare', action='store_true',
                        help='Hold every cluster run\'s outputs to the DirectRunner\'s (needs '
                             '--variant direct), as the cluster tests do.')
    parser.add_argument('--dry-run', action='store_true',
                        help='Print what each variant would run; start nothing.')
    parser.add_argument('--out', default=common.result_path('cluster_engines'))
    args = parser.parse_args(argv)
    variants = args.variant or VARIANTS
    if args.compare and 'direct' not in variants:
        parser.error('--compare needs --variant direct')
    work = args.work or tempfile.mkdtemp(prefix='cluster-engines-')
    os.makedirs(work, exist_ok=True)
    data = common.subset(os.path.abspath(args.input), args.limit, work)
    model = args.model or os.path.join(work, 'model')
    jobs = {'preprocess': ['preprocess', '--input', data],
            'score': ['score', '--input', data, '--model', model, '--no-explain']}
    jobs = {job: argv for job, argv in jobs.items() if job in (args.job or jobs)}
    spark_settings = {k: v for k, v in (('executor_memory', args.executor_memory),
                                        ('parallelism', args.spark_parallelism)) if v}
    if args.dry_run:
        print(json.dumps(plan(variants, jobs, work, args.taskmanager_memory, args.beam_flag,
                              spark_settings), indent=1))
        return 0
    done = {'_path': os.path.join(work, 'partial.json')}
    if os.path.exists(done['_path']):
        with open(done['_path']) as f:
            done = json.load(f)
    if 'score' in jobs and not os.path.exists(os.path.join(model, 'saved_model.pb')):
        # Score's cost on a cluster is its data plane more than the network.
        common.train_small_model(data, work, model)
    results = dict(common.header('cluster_engines', argv), input=args.input,
                   limit=args.limit or None, taskmanager_memory=args.taskmanager_memory or None,
                   spark_settings=spark_settings,
                   beam_flags_given=args.beam_flag, load_average_at_start=os.getloadavg(),
                   runs={})
    for round_ in range(1, args.repeat + 1):
        for variant in variants:
            key = variant if round_ == 1 else f'{variant}#{round_}'
            results['runs'][key] = run_variant(variant, key, jobs, work, done,
                                               args.taskmanager_memory, args.beam_flag,
                                               spark_settings)
            common.write_json(args.out, results)
    counts = {key: {job: common.counts(os.path.join(work, key, job)) for job in jobs}
              for key in results['runs']}
    for key, found in counts.items():
        assert found == counts[next(iter(counts))], (key, found)  # every runner, same counts
    results['reviews'] = counts[next(iter(counts))][next(iter(jobs))]['read']
    if args.compare:
        results['outputs_equal_to_direct'] = {
            key: compare_outputs(os.path.join(work, 'direct'), os.path.join(work, key))
            for key in results['runs'] if key != 'direct'}
    results['load_average_at_end'] = os.getloadavg()
    common.write_json(args.out, results)
    print(json.dumps({key: {job: run[job]['wall_s'] for job in jobs}
                      for key, run in results['runs'].items()}))
    return 0
