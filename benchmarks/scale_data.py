"""Writes the scale inputs: a CSV of N reviews made by repeating the shared files with new ids.

  python -m benchmarks scale_data --source ../shared/data/imdb/train.csv \\
      --rows 25000 --rows 250000 --rows 1000000 --out /tmp/scale

Writes ``OUT/reviews-<N>.csv`` (header ``id,review,sentiment``) for each ``--rows``:
the source rows in order, again and again, the k-th pass with ids ``c<k>-<n>``
(n the source row number), so every id is new and unique within the file. The
same mix of reviews at every size keeps per-review costs comparable. Goes under
/tmp: generated data is never committed.

Repeated texts add no new words or n-grams, so the vocabularies stop growing after
the first pass. For inputs whose n-gram vocabulary grows with the input as with new
text (issue 21), ``--made-up-labels`` lets unlabelled sources (unsup.csv) in, each
review labelled by a hash of its text, and ``--fresh`` makes every pass after the first
new text: in each review about one word in ``--fresh`` (default 8) is replaced by a word
drawn from all the sources' words (so word frequencies stay the same), which makes new
bigrams and trigrams around it, as new reviews would:

  python -m benchmarks scale_data --source ../shared/data/imdb/train.csv \\
      --source ../shared/data/imdb/unsup.csv --made-up-labels --fresh 8 \\
      --rows 250000 --out /tmp/scale-fresh
"""

import csv
import hashlib
import itertools
import os
import random
from typing import Iterator, List, Optional, Sequence, Tuple

from benchmarks import common


def source_rows(paths: List[str], made_up_labels: bool = False) -> List[Tuple[str, str]]:
    """(review, sentiment or '') of every row of ``paths``, in order; with ``made_up_labels``
    a row without a sentiment gets one from a hash of its text."""
    rows = []
    for path in paths:
        with open(path, newline='', encoding='utf-8') as f:
            rows += [(r['review'], r.get('sentiment') or
                      (_made_up_label(r['review']) if made_up_labels else ''))
                     for r in csv.DictReader(f)]
    return rows


def _made_up_label(review: str) -> str:
    return ('positive', 'negative')[hashlib.sha256(review.encode('utf-8')).digest()[0] & 1]


def _freshened(review: str, words: List[str], every: int, rng: random.Random) -> str:
    """``review`` with about one word in ``every`` replaced by a word drawn from ``words``."""
    tokens = review.split(' ')
    for j in range(len(tokens)):
        if rng.randrange(every) == 0:
            tokens[j] = rng.choice(words)
    return ' '.join(tokens)


def repeated(rows: List[Tuple[str, str]], n: int,
             fresh: Optional[int] = None) -> Iterator[Tuple[str, str, str]]:
    """The first ``n`` rows of the endless repetition of ``rows``, as (id, review, sentiment);
    with ``fresh``, passes after the first have about one word in ``fresh`` replaced."""
    words = [w for review, _ in rows for w in review.split(' ')] if fresh else []

    def one_pass(k):
        rng = random.Random(k)
        for i, (review, label) in enumerate(rows):
            if fresh and k:
                review = _freshened(review, words, fresh, rng)
            yield f'c{k}-{i + 1}', review, label

    passes = itertools.chain.from_iterable(one_pass(k) for k in itertools.count())
    return itertools.islice(passes, n)


def write(rows: List[Tuple[str, str]], n: int, out_dir: str, fresh: Optional[int] = None) -> str:
    """Writes ``out_dir/reviews-<n>.csv`` (staged, then renamed into place) -> its path."""
    path = os.path.join(out_dir, f'reviews-{n}.csv')
    os.makedirs(out_dir, exist_ok=True)
    partial = path + '.partial'
    with open(partial, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(['id', 'review', 'sentiment'])
        writer.writerows(repeated(rows, n, fresh))
    os.replace(partial, path)
    return path


def main(argv: Sequence[str]) -> int:
    parser = common.parser('scale_data', __doc__)
    parser.add_argument('--source', action='append', required=True)
    parser.add_argument('--rows', action='append', type=int, required=True)
    parser.add_argument('--out', default='/tmp/scale')
    parser.add_argument('--made-up-labels', action='store_true',
                        help='label rows without a sentiment by a hash of their text')
    parser.add_argument('--fresh', type=int, metavar='EVERY',
                        help='after the first pass, replace about one word in EVERY')
    args = parser.parse_args(argv)
    rows = source_rows(args.source, args.made_up_labels)
    for n in args.rows:
        print(write(rows, n, args.out, args.fresh), flush=True)
    return 0
