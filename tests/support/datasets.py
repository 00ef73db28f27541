"""Small review datasets for tests: a slice of the shared data when present, else generated."""

import csv
import os
import random
from typing import List, Optional, Tuple

from tests.support.paths import ROOT


SHARED_DATA = os.path.join(ROOT, '..', 'shared', 'data', 'imdb')
SHARED_TRAIN = os.path.join(SHARED_DATA, 'train.csv')

_POSITIVE = ['great', 'wonderful', 'loved', 'brilliant', 'moving', 'superb', 'fun']
_NEGATIVE = ['awful', 'boring', 'hated', 'terrible', 'dull', 'worst', 'waste']
_NEUTRAL = ['the', 'movie', 'film', 'plot', 'actor', 'scene', 'story', 'was', 'and', 'a']


def generated_reviews(n: int, seed: int = 0) -> List[Tuple[str, str]]:
    """n (review, sentiment) pairs whose words carry the label, with HTML and punctuation."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = 'positive' if i % 2 == 0 else 'negative'
        cues = _POSITIVE if label == 'positive' else _NEGATIVE
        words = [rng.choice(_NEUTRAL + cues) for _ in range(rng.randint(8, 40))]
        words.insert(rng.randrange(len(words)), rng.choice(cues))
        text = ' '.join(words).capitalize()
        rows.append((f'{text}, "really"!<br /><br />Review {i}.', label))
    return rows


def review_rows(n: int) -> List[Tuple[str, str]]:
    """The first n rows of the shared train.csv when it is there, else generated ones."""
    if os.path.exists(SHARED_TRAIN):
        with open(SHARED_TRAIN, newline='', encoding='utf-8') as f:
            reader = csv.reader(f)
            next(reader)
            return [tuple(row) for _, row in zip(range(n), reader)]
    return generated_reviews(n)


def write_csv(path: str, rows, header: Optional[Tuple[str, ...]] = ('review', 'sentiment')) -> str:
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        if header:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def write_aclimdb(root: str, split: str, rows) -> str:
    """An aclImdb split folder: <root>/<split>/{pos,neg}/<i>_<stars>.txt."""
    folder = os.path.join(root, split)
    for i, (text, label) in enumerate(rows):
        sub = 'pos' if label == 'positive' else 'neg'
        stars = 8 if label == 'positive' else 2
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
        with open(os.path.join(folder, sub, f'{i}_{stars}.txt'), 'w', encoding='utf-8') as f:
            f.write(text)
    return folder


def write_titled_csv(path: str, rows) -> str:
    """A Kaggle-layout CSV with a title column first: review i's title is "Title i"."""
    return write_csv(path, [(f'Title {i}', text, label) for i, (text, label) in enumerate(rows)],
                     header=('title', 'review', 'sentiment'))
