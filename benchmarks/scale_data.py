"""Scale inputs: a CSV of N reviews made by repeating the shared files with new ids.

  .venv/bin/python benchmarks/scale_data.py --source ../shared/data/imdb/train.csv \\
      --rows 25000 --rows 250000 --rows 1000000 --out /tmp/scale

Writes ``OUT/reviews-<N>.csv`` (header ``id,review,sentiment``) for each ``--rows``:
the source rows in order, again and again, the k-th pass with ids ``c<k>-<n>``
(n the source row number), so every id is new and unique within the file. The
same mix of reviews at every size keeps per-review costs comparable. Goes under
/tmp: generated data is never committed.
"""

import argparse
import csv
import itertools
import os
from typing import Iterator, List, Tuple


def source_rows(paths: List[str]) -> List[Tuple[str, str]]:
    """(review, sentiment or '') of every row of ``paths``, in order."""
    rows = []
    for path in paths:
        with open(path, newline='', encoding='utf-8') as f:
            rows += [(r['review'], r.get('sentiment') or '') for r in csv.DictReader(f)]
    return rows


def repeated(rows: List[Tuple[str, str]], n: int) -> Iterator[Tuple[str, str, str]]:
    """The first ``n`` rows of the endless repetition of ``rows``, as (id, review, sentiment)."""
    passes = itertools.chain.from_iterable(
        ((f'c{k}-{i + 1}', review, label) for i, (review, label) in enumerate(rows))
        for k in itertools.count())
    return itertools.islice(passes, n)


def write(rows: List[Tuple[str, str]], n: int, out_dir: str) -> str:
    """Writes ``out_dir/reviews-<n>.csv`` (staged, then renamed into place) -> its path."""
    path = os.path.join(out_dir, f'reviews-{n}.csv')
    os.makedirs(out_dir, exist_ok=True)
    partial = path + '.partial'
    with open(partial, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(['id', 'review', 'sentiment'])
        writer.writerows(repeated(rows, n))
    os.replace(partial, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--source', action='append', required=True)
    parser.add_argument('--rows', action='append', type=int, required=True)
    parser.add_argument('--out', default='/tmp/scale')
    args = parser.parse_args()
    rows = source_rows(args.source)
    for n in args.rows:
        print(write(rows, n, args.out), flush=True)


if __name__ == '__main__':
    main()
