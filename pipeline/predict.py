"""The predict command: score a few texts with an exported model.

  imdb-sentiment predict --model out/model "A wonderful film." "Dull and too long."
  cat reviews.txt | imdb-sentiment predict --model out/model -

Prints one line per text: label, probability of positive, and the text's start.
"""

import argparse
import os
import sys
from typing import Sequence

from transforms.errors import TrainError

_BATCH = 256


def run(argv: Sequence[str] = None) -> int:
    parser = argparse.ArgumentParser(
        prog='imdb-sentiment predict', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', required=True, metavar='DIR',
                        help='Model folder written by `imdb-sentiment train`.')
    parser.add_argument('texts', nargs='+', metavar='TEXT',
                        help='Review texts; "-" reads one review per line from standard input.')
    args = parser.parse_args(list(argv or []))
    if not os.path.exists(os.path.join(args.model, 'saved_model.pb')):
        raise TrainError(f'--model {args.model}: no saved_model.pb; '
                         'is it the output folder of `imdb-sentiment train`?')
    texts = []
    for text in args.texts:
        if text == '-':
            texts.extend(line.rstrip('\n') for line in sys.stdin if line.strip())
        else:
            texts.append(text)
    from transforms.inference import Classifier  # TensorFlow loads only once the arguments are fine
    classify = Classifier(args.model)
    for start in range(0, len(texts), _BATCH):
        batch = texts[start:start + _BATCH]
        probabilities, labels = classify(batch)
        for text, p, label in zip(batch, probabilities, labels):
            snippet = ' '.join(text.split())
            snippet = snippet if len(snippet) <= 60 else snippet[:57] + '...'
            print(f'{label}\t{p:.4f}\t{snippet}')
    return 0
