"""Do time per review and peak memory stay flat as the input grows (DirectRunner)?

  python -m benchmarks scale_data --source ../shared/data/imdb/train.csv \\
      --source ../shared/data/imdb/unsup.csv --made-up-labels --fresh 8 \\
      --rows 25000 --rows 1000000 --out /tmp/scale-fresh
  python -m benchmarks scale --data /tmp/scale-fresh --preprocess 25000 --preprocess 1000000
  python -m benchmarks scale --model MODEL --data /tmp/scale-fresh --score 25000 --score 1000000

Runs each job on ``DATA/reviews-<N>.csv`` (from scale_data) in a fresh process (this
checkout's ``imdb-sentiment``, defaults otherwise: score with its explanations; ``--job-arg``
adds a flag to every job, e.g. ``--job-arg=--direct_num_workers=1`` for one process), under
``/usr/bin/time -v`` (wall time, peak RSS) while sampling the resident memory of its process
tree every second (the timeline shows whether memory grows with the input). Writes wall
time, cost per review, peak RSS and both relative to the smallest size to
results/scale.json (--out) after every run, so an interrupted series keeps what it
measured. Outputs go under ``--work`` (default /tmp/scale-out) and are removed after each run.
"""

import json
import os
import shutil
from typing import Dict, List, Sequence

from benchmarks import common


def timeline(samples: List, points: int = 10) -> List:
    """The tree's RSS at about ``points`` evenly spaced moments (for the JSON)."""
    if len(samples) <= points:
        return samples
    step = (len(samples) - 1) / (points - 1)
    return [samples[round(i * step)] for i in range(points)]


def run(job: str, rows: int, args) -> Dict:
    path = os.path.join(args.data, f'reviews-{rows}.csv')
    out = os.path.join(args.work, f'{job}-{rows}')
    cmd = common.job_command(job, '--input', path, '--output', out, *args.job_arg)
    if job == 'score':
        cmd += ['--model', args.model]
    measured = common.run_timed(cmd, sample_every=1.0)
    wall, samples = measured.wall_s, measured.samples
    counts = common.counts(out)
    shutil.rmtree(out, ignore_errors=True)
    return {'rows': rows, 'read': counts['read'], 'wall_s': round(wall, 1),
            'ms_per_review': round(1000 * wall / rows, 3), 'peak_rss_mb': measured.peak_rss_mb,
            'sampled_peak_tree_rss_mb': max((mb for _, mb in samples), default=None),
            'rss_timeline_s_mb': timeline(samples),
            'command': common.shown(cmd)}


def summarize(runs: List[Dict]) -> Dict:
    """Per-review cost and peak memory of each size relative to the smallest."""
    if not runs:
        return {}
    base = min(runs, key=lambda r: r['rows'])
    return {str(r['rows']): {
        'ms_per_review_vs_smallest': round(r['ms_per_review'] / base['ms_per_review'], 3),
        'peak_rss_vs_smallest': round(r['peak_rss_mb'] / base['peak_rss_mb'], 3)}
        for r in runs}


def main(argv: Sequence[str]) -> int:
    parser = common.parser('scale', __doc__)
    parser.add_argument('--model', help='export to score with (needed with --score)')
    parser.add_argument('--data', default='/tmp/scale')
    parser.add_argument('--work', default='/tmp/scale-out')
    parser.add_argument('--score', action='append', type=int, default=[], metavar='ROWS')
    parser.add_argument('--preprocess', action='append', type=int, default=[], metavar='ROWS')
    parser.add_argument('--job-arg', action='append', default=[], metavar='--FLAG=VALUE',
                        help='A flag for every job (repeatable).')
    parser.add_argument('--out', default=common.result_path('scale'))
    args = parser.parse_args(argv)
    if args.score and not args.model:
        parser.error('--score needs --model')
    result = dict(common.header('scale', argv), model=args.model,
                  runner='DirectRunner', job_args=args.job_arg, jobs={})
    for job, sizes in (('score', args.score), ('preprocess', args.preprocess)):
        runs = []
        for rows in sizes:
            runs.append(run(job, rows, args))
            print(job, json.dumps(runs[-1]), flush=True)
            result['jobs'][job] = {'runs': runs, 'relative': summarize(runs)}
            common.write_json(args.out, result)
    print(f'wrote {args.out}')
    return 0
