"""The id check's memory (issue 21): reading and validating N reviews that carry an ``id`` column.

  .venv/bin/python benchmarks/scale_data.py --source ../shared/data/imdb/train.csv \\
      --source ../shared/data/imdb/unsup.csv --made-up-labels --fresh 8 \\
      --rows 25000 --rows 250000 --rows 1000000 --out /tmp/scale-fresh
  git worktree add /tmp/before <commit before the change>
  .venv/bin/python benchmarks/id_check.py --data /tmp/scale-fresh --rows 25000 \\
      --rows 250000 --rows 1000000 --checkout /tmp/before --checkout .

Every job takes reviews in through ``transforms.beam.intake.ReadAndValidate``; with an ``id``
column it checks that no id repeats (``transforms/beam/unique_ids.py``). This runs that
intake alone, on the DirectRunner, in a fresh process per checkout and size (``--checkout``:
the code to run, e.g. a worktree of an earlier commit), counts what it accepted and
rejected, and records the wall time and the peak RSS (``/usr/bin/time -v``). Without the
model and the vocabularies of the jobs, what grows with N here is the intake's own.
Writes benchmarks/results/id_check.json after every run.
"""

import argparse
import ast
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from measure import run_timed, write_json  # noqa: E402
from transforms.jsonio import utc_now, versions  # noqa: E402

# Run in the checkout measured (cwd and PYTHONPATH), so it imports that checkout's code.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', default='/tmp/scale-fresh',
                        help='folder of reviews-<N>.csv (benchmarks/scale_data.py)')
    parser.add_argument('--rows', type=int, action='append', required=True)
    parser.add_argument('--checkout', action='append', default=None,
                        help='the code to run (repeat for a side-by-side); default this one')
    parser.add_argument('--out', default=os.path.join(os.path.dirname(__file__), 'results',
                                                      'id_check.json'))
    args = parser.parse_args()
    checkouts = [os.path.abspath(c) for c in (args.checkout or ['.'])]
    result = {'benchmark': 'id_check', 'issue': 21, 'created': utc_now(),
              'command': 'python benchmarks/id_check.py ' + ' '.join(sys.argv[1:]),
              'cpus': os.cpu_count(), 'versions': versions(), 'runs': []}
    for checkout in checkouts:
        for rows in args.rows:
            path = os.path.join(args.data, f'reviews-{rows}.csv')
            timed = run_timed(['env', f'PYTHONPATH={checkout}', sys.executable, '-c', _CHILD,
                               path], cwd=checkout)
            counts = ast.literal_eval(timed.stdout.strip().splitlines()[-1])
            run = {'checkout': checkout, 'commit': _commit(checkout), 'rows': rows,
                   'wall_s': round(timed.wall_s, 1), 'peak_rss_mb': timed.peak_rss_mb,
                   'counts': counts}
            print(run, flush=True)
            result['runs'].append(run)
            write_json(args.out, result)
    print('wrote', args.out)


if __name__ == '__main__':
    main()
