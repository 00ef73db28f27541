"""How long does `imdb-sentiment [COMMAND] --help` take, process start included?

  python -m benchmarks startup [--runs 5] [--command score ...] [--out FILE]

Runs each command's --help (every command of ``pipeline.flags.COMMANDS``, and none) in a
fresh process (``python -m pipeline.cli``, this checkout's code) ``--runs`` times and writes
the minimum, median and maximum wall time to results/startup.json (--out). The goal is under
1 s for every command: --help loads neither Beam nor TensorFlow (tests/test_startup.py
checks it).
"""

import statistics
import subprocess
import time
from typing import List, Sequence

from benchmarks import common
from pipeline.flags import COMMANDS  # light: plain argparse, no Beam, no TensorFlow

GOAL_S = 1.0


def _seconds(argv: List[str]) -> float:
    started = time.perf_counter()
    subprocess.run(common.job_command(*argv), check=True, stdout=subprocess.DEVNULL,
                   env=common.checkout_env())
    return time.perf_counter() - started


def main(argv: Sequence[str]) -> int:
    parser = common.parser('startup', __doc__)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--command', action='append', choices=list(COMMANDS),
                        help='Only this command and none (repeatable; default every one).')
    parser.add_argument('--out', default=common.result_path('startup'))
    args = parser.parse_args(argv)
    results = {}
    for command in ['', *(args.command or COMMANDS)]:
        help_argv = [command, '--help'] if command else ['--help']
        times = [_seconds(help_argv) for _ in range(args.runs)]
        results[command or '(none)'] = {'min_s': round(min(times), 3),
                                        'median_s': round(statistics.median(times), 3),
                                        'max_s': round(max(times), 3)}
        print(f'imdb-sentiment {" ".join(help_argv)}: median '
              f'{results[command or "(none)"]["median_s"]} s', flush=True)
    worst = max(r['median_s'] for r in results.values())
    out = dict(common.header('startup', argv), runs=args.runs, help=results, goal_s=GOAL_S,
               worst_median_s=worst, goal_met=worst < GOAL_S)
    common.write_json(args.out, out)
    print(f'worst median {worst} s; wrote {args.out}')
    return 0
