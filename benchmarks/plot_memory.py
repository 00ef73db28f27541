"""Peak memory over input size (issue 21): one line per measured series, from the JSON files
that ``scale.py`` and ``cluster.py`` wrote, drawn as a PNG beside them.

  .venv/bin/python benchmarks/plot_memory.py \\
      [--series 'LABEL=results/FILE.json:JOB' ...] [--out benchmarks/results/memory_over_size.png]

Without ``--series`` it draws the series the benchmarks README's scale table quotes. A
series is a ``scale.py`` result file and the job in it (``preprocess`` or ``score``); each
point is one run's peak RSS (``/usr/bin/time -v``). Left: the peaks in MB; right: each
relative to its series' smallest run, with issue 21's bounds (1.3 for preprocess, 1.05 for
score) dotted. Prints the points it drew, so the figure can be checked against the JSON.
"""

import argparse
import json
import os
import sys
from typing import List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SERIES = (
    'score (issue 13: every id kept in a set)=results/scale.json:score',
    'preprocess before issue 21 (train.csv repeated)=results/scale.json:preprocess',
    'preprocess, bounded (94b246c), alone=results/scale-preprocess-quiet.json:preprocess',
    'preprocess, ids on fingerprints (7cd0ed4)=results/scale-preprocess-ids.json:preprocess',
    'preprocess, 1a988ac=results/scale-preprocess-1m.json:preprocess',
    'preprocess, the coder bounded (b31fb42)=results/scale-preprocess-coder-1m.json:preprocess',
    'score, id check bounded, by length (112a82a)=results/scale-score-1m-length.json:score',
)
BOUNDS = ((1.3, "preprocess's bound (1.3x)"), (1.05, "score's bound (1.05x)"))


def parse_series(text: str) -> Tuple[str, str, str]:
    """'LABEL=FILE:JOB' -> (label, path, job); FILE is relative to benchmarks/."""
    label, sep, rest = text.partition('=')
    path, sep2, job = rest.rpartition(':')
    if not (sep and sep2 and label and path and job):
        raise SystemExit(f'plot_memory: --series must be LABEL=FILE:JOB, not {text!r}')
    return label, os.path.join(HERE, path), job


def points(path: str, job: str) -> List[Tuple[int, int]]:
    """(reviews, peak RSS MB) of each run of ``job`` in a scale.py result file."""
    with open(path, encoding='utf-8') as f:
        runs = json.load(f)['jobs'].get(job, {}).get('runs', [])
    return sorted((r['rows'], r['peak_rss_mb']) for r in runs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--series', action='append', metavar='LABEL=FILE:JOB',
                        help='a series to draw (repeat it); default: the README table\'s')
    parser.add_argument('--out', default=os.path.join(HERE, 'results', 'memory_over_size.png'))
    args = parser.parse_args(argv)

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, (ax, rel) = plt.subplots(1, 2, figsize=(12, 5))
    drawn = 0
    for label, path, job in map(parse_series, args.series or DEFAULT_SERIES):
        if not os.path.exists(path):
            print(f'skipped (no file): {label}: {os.path.relpath(path, HERE)}')
            continue
        pts = points(path, job)
        if not pts:
            print(f'skipped (no {job} runs): {label}')
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
    ax.set_ylabel('peak RSS of the job, MB')
    ax.set_ylim(bottom=0)
    ax.set_title('Peak memory over input size (DirectRunner)')
    rel.set_ylabel("peak RSS / the series' smallest run's")
    rel.set_title('The same, relative to the smallest run')
    rel.legend(fontsize=8, loc='upper left')
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f'wrote {os.path.relpath(args.out)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
