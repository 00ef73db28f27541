"""How much memory does the intake's id check take as the number of ids grows?

  python -m benchmarks scale_data --source ../shared/data/imdb/train.csv \\
      --source ../shared/data/imdb/unsup.csv --made-up-labels --fresh 8 \\
      --rows 25000 --rows 250000 --rows 1000000 --out /tmp/scale-fresh
  git worktree add /tmp/before <commit before the change>
  python -m benchmarks id_check --data /tmp/scale-fresh --rows 25000 \\
      --rows 250000 --rows 1000000 --checkout /tmp/before --checkout .

Every job takes reviews in through ``transforms.beam.intake.ReadAndValidate``; with an ``id``
column it checks that no id repeats (``transforms/beam/unique_ids.py``). This runs that
intake alone, on the DirectRunner, in a fresh process per checkout and size (``--checkout``:
the code to run, e.g. a worktree of an earlier commit), counts what it accepted and
rejected, and records the wall time and the peak RSS (``/usr/bin/time -v``). Without the
model and the vocabularies of the jobs, what grows with N here is the intake's own.
Writes results/id_check.json (--out) after every run.
"""

import ast
import os
import subprocess
import sys
from typing import Sequence

from benchmarks import common

# Run with the checkout measured first on the import path, so it imports that checkout's code.
_CHILD = '''
import sys
import apache_beam as beam
from transforms import schema
from transforms.beam.inputs import resolve_inputs
from transforms.beam.intake import ReadAndValidate
with beam.Pipeline() as p:
    taken = p | ReadAndValidate(resolve_inputs([sys.argv[1]]), require_label=False,
                                max_review_chars=schema.DEFAULT_MAX_REVIEW_CHARS)
    _ = (taken['counts'] | beam.Flatten() | beam.combiners.ToList()
         | beam.Map(lambda counts: print(dict(counts), flush=True)))
'''


def _commit(checkout: str) -> str:
    git = ['git', '-C', checkout]
    commit = subprocess.run(git + ['rev-parse', '--short', 'HEAD'], capture_output=True,
                            text=True).stdout.strip()
    changed = subprocess.run(git + ['status', '--porcelain', '--untracked-files=no'],
                             capture_output=True, text=True).stdout.strip()
    return commit + (' with uncommitted changes' if changed else '')


def main(argv: Sequence[str]) -> int:
    parser = common.parser('id_check', __doc__)
    parser.add_argument('--data', default='/tmp/scale-fresh',
                        help='folder of reviews-<N>.csv (python -m benchmarks scale_data)')
    parser.add_argument('--rows', type=int, action='append', required=True)
    parser.add_argument('--checkout', action='append', default=None,
                        help='the code to run (repeat for a side-by-side); default this one')
    parser.add_argument('--out', default=common.result_path('id_check'))
    args = parser.parse_args(argv)
    checkouts = [os.path.abspath(c) for c in (args.checkout or [common.ROOT])]
    result = dict(common.header('id_check', argv), runs=[])
    for checkout in checkouts:
        for rows in args.rows:
            path = os.path.join(args.data, f'reviews-{rows}.csv')
            timed = common.run_timed([sys.executable, '-c', _CHILD, path], checkout=checkout)
            counts = ast.literal_eval(timed.stdout.strip().splitlines()[-1])
            run = {'checkout': checkout, 'commit': _commit(checkout), 'rows': rows,
                   'wall_s': round(timed.wall_s, 1), 'peak_rss_mb': timed.peak_rss_mb,
                   'counts': counts}
            print(run, flush=True)
            result['runs'].append(run)
            common.write_json(args.out, result)
    print('wrote', args.out)
    return 0
