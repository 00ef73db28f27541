"""How fast is the whole score job against a plain loop over the export, side by side?

  python -m benchmarks score_speed --model MODEL --input ../shared/data/imdb/train.csv \\
      [--repeats 2] [--loop-by-length] [--baseline DIR]

Each repeat runs, each in a fresh process under ``/usr/bin/time -v`` (wall time,
process start included, and peak RSS), and in a rotating order so that a busy
spell of the shared machine does not always hit the same one:

- ``job``: ``imdb-sentiment score`` in its default mode (explanations on: what
  runs nightly), from this checkout;
- ``job_no_explain``: the same with ``--no-explain``;
- ``loop``: ``python -c`` that imports TensorFlow, loads the export's
  ``serving_default`` and scores the same raw reviews in batches of 256;
- ``loop_by_length`` (with ``--loop-by-length``): the same loop with the reviews sorted
  by length first, as the job batches them since the export cuts a batch's padding after
  its longest review; a reference for the job's own overhead, beside the plain loop;
- ``baseline_job`` (with ``--baseline DIR``): the default-mode job run from another
  checkout of the project (e.g. ``git worktree add /tmp/base main``), to measure a
  change side by side with what it changes.

The goal is a job at 0.9 or more of the loop's speed: ``loop wall / job wall``
is written for every repeat and as the median of them, to results/score_speed.json.
Arguments it does not know go to the score job.
"""

import json
import os
import shutil
import statistics
import sys
import tempfile
from typing import Dict, List, Sequence

from benchmarks import common

GOAL = 0.9

# The ceiling: what a user would write by hand. Reading the CSV, TensorFlow's import and
# the model load are counted, as the job's are.
LOOP = '''
import csv, sys
import tensorflow as tf
model, path, batch = sys.argv[1], sys.argv[2], 256
with open(path, newline='', encoding='utf-8') as f:
    texts = [row['review'] for row in csv.DictReader(f)]
if sys.argv[3:] == ['by-length']:
    texts.sort(key=len)
loaded = tf.saved_model.load(model)
serve = loaded.signatures['serving_default']
n = 0
for i in range(0, len(texts), batch):
    out = serve(reviews=tf.constant(texts[i:i + batch], tf.string))
    n += len(out['probability'].numpy())
print(n)
'''


def timed(cmd: List[str], checkout: str = common.ROOT) -> Dict:
    """Runs ``cmd`` under /usr/bin/time -v with ``checkout``'s code -> wall_s, peak_rss_mb."""
    run = common.run_timed(cmd, checkout=checkout)
    return {'wall_s': round(run.wall_s, 2), 'peak_rss_mb': run.peak_rss_mb, 'stdout': run.stdout}


def run_job(model: str, inputs: List[str], explain: bool, extra: List[str],
            checkout: str = common.ROOT) -> Dict:
    work = tempfile.mkdtemp(prefix='score-speed-')
    try:
        cmd = common.job_command('score', '--model', model,
                                 '--output', os.path.join(work, 'score'), *extra)
        cmd += [a for p in inputs for a in ('--input', p)]
        if not explain:
            cmd.append('--no-explain')
        result = timed(cmd, checkout=checkout)
        with open(os.path.join(work, 'score', 'manifest.json'), encoding='utf-8') as f:
            manifest = json.load(f)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    del result['stdout']
    result.update(reviews=manifest['counts']['read'],
                  accuracy=manifest['metrics'].get('accuracy'),
                  command=common.shown(cmd), checkout=checkout)
    return result


def run_loop(model: str, inputs: List[str], by_length: bool = False) -> Dict:
    if len(inputs) != 1:
        raise SystemExit('the loop reads one CSV: give one --input')
    result = timed([sys.executable, '-c', LOOP, model, inputs[0]]
                   + (['by-length'] if by_length else []))
    result['reviews'] = int(result.pop('stdout').split()[-1])
    return result


def main(argv: Sequence[str]) -> int:
    parser = common.parser('score_speed', __doc__)
    parser.add_argument('--model', required=True)
    parser.add_argument('--input', action='append', required=True)
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--baseline', metavar='DIR',
                        help='another checkout whose default-mode job is timed beside')
    parser.add_argument('--loop-by-length', action='store_true',
                        help='also time the loop with the reviews sorted by length')
    parser.add_argument('--out', default=common.result_path('score_speed'))
    args, extra = parser.parse_known_args(argv)  # the rest goes to the score job
    runs = {
        'loop': lambda: run_loop(args.model, args.input),
        'job': lambda: run_job(args.model, args.input, True, extra),
        'job_no_explain': lambda: run_job(args.model, args.input, False, extra),
    }
    if args.loop_by_length:
        runs['loop_by_length'] = lambda: run_loop(args.model, args.input, by_length=True)
    if args.baseline:
        runs['baseline_job'] = lambda: run_job(args.model, args.input, True, extra,
                                               os.path.abspath(args.baseline))
    names = list(runs)
    measured: Dict[str, List[Dict]] = {name: [] for name in names}
    for r in range(args.repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            measured[name].append(runs[name]())
            print(f'repeat {r + 1} {name}: {json.dumps(measured[name][-1])}', flush=True)
    jobs = [n for n in names if not n.startswith('loop')]

    def over(loop: str) -> Dict:
        found = {}
        for name in jobs:
            paired = [a['wall_s'] / b['wall_s'] for a, b in zip(measured[loop], measured[name])]
            found[name] = {'per_repeat': [round(x, 3) for x in paired],
                           'median': round(statistics.median(paired), 3)}
        return found

    ratios = over('loop')
    result = {
        **common.header('score_speed', argv), 'model': args.model, 'inputs': args.input,
        'runs': measured,
        'median_wall_s': {n: statistics.median(r['wall_s'] for r in measured[n]) for n in names},
        'speed_over_loop': ratios, 'goal': GOAL,
        'goal_met': {n: ratios[n]['median'] >= GOAL for n in ratios},
    }
    if args.loop_by_length:
        result['speed_over_loop_by_length'] = over('loop_by_length')
    if args.baseline:
        paired = [b['wall_s'] / j['wall_s'] for b, j in zip(measured['baseline_job'],
                                                              measured['job'])]
        result['job_speed_over_baseline'] = {'per_repeat': [round(x, 3) for x in paired],
                                             'median': round(statistics.median(paired), 3)}
    print(json.dumps({k: result[k] for k in ('median_wall_s', 'speed_over_loop', 'goal_met',
                                             'speed_over_loop_by_length',
                                             'job_speed_over_baseline') if k in result}, indent=1))
    common.write_json(args.out, result)
    print(f'wrote {args.out}')
    return 0
