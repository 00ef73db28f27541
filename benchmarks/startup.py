"""Start-up: how long `imdb-sentiment [COMMAND] --help` takes, process start included.

  .venv/bin/python benchmarks/startup.py [--runs 5]

Runs each command's --help in a fresh process ``--runs`` times and writes the
minimum, median and maximum wall time to benchmarks/results/startup.json. The goal is
under 1 s for every command: --help loads neither Beam nor TensorFlow.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from pipeline.cli import COMMANDS  # noqa: E402  (light: the command table only)

_BIN = os.path.join(os.path.dirname(sys.executable), 'imdb-sentiment')
RESULTS = os.path.join(os.path.dirname(__file__), 'results', 'startup.json')


def _time(argv):
    started = time.perf_counter()
    subprocess.run([_BIN, *argv], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=5)
    args = parser.parse_args()
    results = {}
    for command in ['', *COMMANDS]:
        argv = [command, '--help'] if command else ['--help']
        times = [_time(argv) for _ in range(args.runs)]
        results[command or '(none)'] = {'min_s': round(min(times), 3),
                                        'median_s': round(statistics.median(times), 3),
                                        'max_s': round(max(times), 3)}
        print(f'imdb-sentiment {" ".join(argv)}: median {results[command or "(none)"]["median_s"]} s')
    worst = max(r['median_s'] for r in results.values())
    out = {'command': 'benchmarks/startup.py', 'runs': args.runs, 'help': results,
           'goal_s': 1.0, 'worst_median_s': worst, 'goal_met': worst < 1.0}
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, 'w') as f:
        json.dump(out, f, indent=2)
    print(f'worst median {worst} s; wrote {RESULTS}')


if __name__ == '__main__':
    main()
