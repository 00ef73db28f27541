"""Draws peak memory over input size, each engine and job, from the scale and cluster results.

  python -m benchmarks plot_memory [--series 'LABEL=results/FILE.json:JOB' ...] \\
      [--cluster 'LABEL=results/A.json,results/B.json:VARIANT/JOB:PROCESS' ...] \\
      [--out benchmarks/results/memory_over_size.png]

Without ``--series`` and ``--cluster`` it draws today's figures, the ones the benchmarks
README's memory table quotes: one line per engine and job. A series is a ``scale`` result file
and the job in it (``preprocess`` or ``score``); each point is one run's peak RSS
(``/usr/bin/time -v``). A cluster series takes one point from each ``cluster_engines`` result
file: the largest peak of the processes named PROCESS, or PROCESS-N (``worker-pool``: each
SDK worker pool with its workers, where the Python work runs; ``worker``: Spark's worker with
its executor) in that variant's job. Left: the
peaks in MB; right: each relative to its series' smallest run, with the bounds of the
DirectRunner's jobs (1.3x for preprocess, 1.05x for score) dotted. Prints the points it drew,
so the figure can be checked against the JSON.
"""

import json
import os
import re
import sys
from typing import List, Sequence, Tuple

from benchmarks import common

_BASE = os.path.join(common.ROOT, 'benchmarks')  # what a series' file names are relative to
_FLINK = ('results/cluster_engines-25k.json,results/cluster_engines-250k.json,'
          'results/cluster_engines-1m.json')
DEFAULT_SERIES = (
    'DirectRunner preprocess, a worker process per core='
    'results/scale-preprocess-default-1m.json:preprocess',
    'DirectRunner score=results/scale-score-1m-length.json:score',
)
_SPARK = ('results/cluster_engines-spark-25k-compare.json,'
          'results/cluster_engines-spark-250k.json,results/cluster_engines-spark-1m.json')
DEFAULT_CLUSTER = (
    f'Flink preprocess, one SDK worker pool (--parallelism 16; 40 at 1M)={_FLINK}'
    ':flink/preprocess:worker-pool',
    f'Flink score, one SDK worker pool (--parallelism 16; 40 at 1M)={_FLINK}'
    ':flink/score:worker-pool',
    f'Spark preprocess, the executor (16 partitions; 40 at 1M)={_SPARK}'
    ':spark/preprocess:worker',
    f'Spark preprocess, the SDK worker pool={_SPARK}:spark/preprocess:worker-pool',
    f'Spark score, the executor={_SPARK}:spark/score:worker',
    f'Spark score, the SDK worker pool={_SPARK}:spark/score:worker-pool',
)
BOUNDS = ((1.3, "DirectRunner preprocess's bound (1.3x)"),
          (1.05, "DirectRunner score's bound (1.05x)"))


def parse_series(text: str) -> Tuple[str, str, str]:
    """'LABEL=FILE:JOB' -> (label, path, job); FILE is relative to benchmarks/."""
    label, sep, rest = text.partition('=')
    path, sep2, job = rest.rpartition(':')
    if not (sep and sep2 and label and path and job):
        raise SystemExit(f'plot_memory: --series must be LABEL=FILE:JOB, not {text!r}')
    return label, os.path.join(_BASE, path), job


def points(path: str, job: str) -> List[Tuple[int, int]]:
    """(reviews, peak RSS MB) of each run of ``job`` in a scale.py result file."""
    with open(path, encoding='utf-8') as f:
        runs = json.load(f)['jobs'].get(job, {}).get('runs', [])
    return sorted((r['rows'], r['peak_rss_mb']) for r in runs)


def cluster_points(spec: str) -> Tuple[str, List[Tuple[int, int]], List[str]]:
    """'LABEL=FILE,FILE:VARIANT/JOB:PROCESS' -> (label, (reviews, peak MB) points, skipped)."""
    label, sep, rest = spec.partition('=')
    files, sep2, rest = rest.partition(':')
    run, sep3, process = rest.rpartition(':')
    variant, sep4, job = run.partition('/')
    if not (sep and sep2 and sep3 and sep4 and label and files and process):
        raise SystemExit(f'plot_memory: --cluster must be LABEL=FILE,FILE:VARIANT/JOB:PROCESS, '
                         f'not {spec!r}')
    found, skipped = [], []
    for name in files.split(','):
        path = os.path.join(_BASE, name)
        if not os.path.exists(path):
            skipped.append(name)
            continue
        with open(path, encoding='utf-8') as f:
            result = json.load(f)
        memory = result['runs'].get(variant, {}).get(job, {}).get('memory', {})
        peaks = [m['peak_rss_mb'] for p, m in memory.items()
                 if re.fullmatch(re.escape(process) + r'(-\d+)?', p)]
        if peaks and result.get('reviews'):
            found.append((result['reviews'], max(peaks)))
        else:
            skipped.append(name)
    return label, sorted(found), skipped


def main(argv: Sequence[str]) -> int:
    parser = common.parser('plot_memory', __doc__)
    parser.add_argument('--series', action='append', metavar='LABEL=FILE:JOB',
                        help='a series to draw (repeat it); default: the DirectRunner\'s')
    parser.add_argument('--cluster', action='append', metavar='LABEL=FILE,FILE:VARIANT/JOB:PROCESS',
                        help='a cluster series to draw (repeat it); default: the Flink and Spark '
                             'runs\'')
    parser.add_argument('--out', default=os.path.join(common.RESULTS, 'memory_over_size.png'))
    args = parser.parse_args(argv)

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, (ax, rel) = plt.subplots(1, 2, figsize=(12, 5))
    drawn = 0
    chosen = args.series or args.cluster
    series = [(label, points(path, job) if os.path.exists(path) else [], job,
               os.path.relpath(path, common.ROOT))
              for label, path, job in map(parse_series, (args.series or []) if chosen
                                          else DEFAULT_SERIES)]
    for label, pts, skipped in map(cluster_points, (args.cluster or []) if chosen
                                   else DEFAULT_CLUSTER):
        if skipped:
            print(f'{label}: no point from {", ".join(skipped)}')
        series.append((label, pts if len(pts) > 1 else [], 'cluster', ', '.join(skipped)))
    for label, pts, job, source in series:
        if not pts:
            print(f'skipped (no {job} runs, or one point): {label}: {source}')
            continue
        xs, ys = zip(*pts)
        ax.plot(xs, ys, marker='o', label=label)
        rel.plot(xs, [y / ys[0] for y in ys], marker='o', label=label)
        print(f'{label}: ' + ', '.join(f'{x:,} reviews {y:,} MB ({y / ys[0]:.2f}x)'
                                       for x, y in pts))
        drawn += 1
    if not drawn:
        print('plot_memory: nothing to draw', file=sys.stderr)
        return 1
    for (bound, text), style in zip(BOUNDS, (':', '--')):
        rel.axhline(bound, linestyle=style, color='grey', label=text)
    for axis in (ax, rel):
        axis.set_xscale('log')
        axis.set_xlabel('reviews in the input (log scale)')
        axis.grid(True, which='both', alpha=0.3)
    ax.set_ylabel('peak RSS of the job (a cluster: of the process named), MB')
    ax.set_ylim(bottom=0)
    ax.set_title('Peak memory over input size (DirectRunner; Flink; Spark)')
    rel.set_ylabel("peak RSS / the series' smallest run's")
    rel.set_title('The same, relative to the smallest run')
    rel.legend(fontsize=8, loc='upper left')
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f'wrote {os.path.relpath(args.out)}')
    return 0
