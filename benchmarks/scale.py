"""Scale (issue #13): score and preprocess on the DirectRunner as the input grows.

  .venv/bin/python benchmarks/scale_data.py --source ../shared/data/imdb/train.csv \\
      --rows 25000 --rows 50000 --rows 250000 --rows 1000000 --out /tmp/scale
  .venv/bin/python benchmarks/scale.py --model out/model --data /tmp/scale \\
      --score 25000 --score 250000 --score 1000000 --preprocess 25000 --preprocess 50000

Runs each job on ``DATA/reviews-<N>.csv`` (from scale_data.py) in a fresh process
(``python -m pipeline.cli`` from this checkout, defaults otherwise: score with
its explanations), under ``/usr/bin/time -v`` (wall time, peak RSS) while
sampling the resident memory of its process tree every second (the timeline
shows whether memory grows with the input). Writes wall time, cost per
review, peak RSS and both relative to the smallest size to
benchmarks/results/scale.json after every run, so an interrupted series keeps
what it measured. Outputs go under ``--work`` (default /tmp/scale-out) and are
removed after each run.
"""

import argparse
import json
import os
import shutil
import sys
from typing import Dict, List

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from measure import run_timed, write_json  # noqa: E402
from transforms.jsonio import utc_now, versions  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
RESULTS = os.path.join(ROOT, 'benchmarks', 'results', 'scale.json')


def timeline(samples: List, points: int = 10) -> List:
    """The tree's RSS at about ``points`` evenly spaced moments (for the JSON)."""
    if len(samples) <= points:
        return samples
    step = (len(samples) - 1) / (points - 1)
    return [samples[round(i * step)] for i in range(points)]


def run(job: str, rows: int, args) -> Dict:
    path = os.path.join(args.data, f'reviews-{rows}.csv')
    out = os.path.join(args.work, f'{job}-{rows}')
    cmd = [sys.executable, '-m', 'pipeline.cli', job, '--input', path, '--output', out]
    if job == 'score':
        cmd += ['--model', args.model]
    measured = run_timed(cmd, cwd=ROOT, sample_every=1.0)
    wall, samples = measured.wall_s, measured.samples
    with open(os.path.join(out, 'manifest.json'), encoding='utf-8') as f:
        counts = json.load(f)['counts']
    shutil.rmtree(out, ignore_errors=True)
    return {'rows': rows, 'read': counts['read'], 'wall_s': round(wall, 1),
            'ms_per_review': round(1000 * wall / rows, 3), 'peak_rss_mb': measured.peak_rss_mb,
            'sampled_peak_tree_rss_mb': max((mb for _, mb in samples), default=None),
            'rss_timeline_s_mb': timeline(samples),
            'command': ' '.join(['imdb-sentiment', *cmd[3:]])}


def summarize(runs: List[Dict]) -> Dict:
    """Per-review cost and peak memory of each size relative to the smallest."""
    if not runs:
        return {}
    base = min(runs, key=lambda r: r['rows'])
    return {str(r['rows']): {'ms_per_review_vs_smallest': round(r['ms_per_review'] /
                                                                base['ms_per_review'], 3),
                             'peak_rss_vs_smallest': round(r['peak_rss_mb'] / base['peak_rss_mb'], 3)}
            for r in runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', help='export to score with (needed with --score)')
    parser.add_argument('--data', default='/tmp/scale')
    parser.add_argument('--work', default='/tmp/scale-out')
    parser.add_argument('--score', action='append', type=int, default=[], metavar='ROWS')
    parser.add_argument('--preprocess', action='append', type=int, default=[], metavar='ROWS')
    parser.add_argument('--out', default=RESULTS)
    args = parser.parse_args()
    if args.score and not args.model:
        parser.error('--score needs --model')
    result = {'benchmark': 'scale', 'issue': 13, 'created': utc_now(),
              'command': 'python benchmarks/scale.py ' + ' '.join(sys.argv[1:]),
              'model': args.model, 'cpus': os.cpu_count(), 'versions': versions(),
              'runner': 'DirectRunner (default, in-memory)', 'jobs': {}}
    for job, sizes in (('score', args.score), ('preprocess', args.preprocess)):
        runs = []
        for rows in sizes:
            runs.append(run(job, rows, args))
            print(job, json.dumps(runs[-1]), flush=True)
            result['jobs'][job] = {'runs': runs, 'relative': summarize(runs)}
            write_json(args.out, result)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
