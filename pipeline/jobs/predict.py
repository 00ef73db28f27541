"""The predict command: score a few texts with an exported model.

  imdb-sentiment predict --model out/model "A wonderful film." "Dull and too long."
  cat reviews.txt | imdb-sentiment predict --model out/model -
  imdb-sentiment predict --model gs://bucket/models "A wonderful film."   # the champion

Prints one line per text: label, probability of positive, and the text's start.
"""

import argparse
import sys
from typing import List, Sequence

from pipeline import flags
from pipeline.model_lookup import resolve_model
from transforms.beam.inference import Classifier
from transforms.errors import InputError

NAME = 'predict'
_BATCH = 256


def _stdin_lines():
    """Standard input's non-blank lines; InputError (exit 2) at the first that is not UTF-8."""
    stream = getattr(sys.stdin, 'buffer', None)
    if stream is None:  # already text (a test's StringIO, an embedding program's stream)
        yield from (line.rstrip('\r\n') for line in sys.stdin if line.strip())
        return
    for number, raw in enumerate(stream, 1):
        try:
            line = raw.decode('utf-8').rstrip('\r\n')
        except UnicodeDecodeError as e:
            raise InputError(f'standard input, line {number}: not UTF-8 (byte {e.start}: '
                             f'{raw[e.start:e.start + 1]!r}); convert it, e.g. with iconv') from None
        if line.strip():
            yield line


def main(job_args: argparse.Namespace, beam_args: List[str]) -> int:
    """Runs the parsed command; returns the exit code."""
    model = resolve_model(job_args.model)   # an export, or a registry's champion
    texts = []
    for text in job_args.texts:
        if text == '-':
            texts.extend(_stdin_lines())
        else:
            texts.append(text)
    classify = Classifier(model)
    for start in range(0, len(texts), _BATCH):
        batch = texts[start:start + _BATCH]
        probabilities, labels = classify(batch)
        for text, p, label in zip(batch, probabilities, labels):
            snippet = ' '.join(text.split())
            snippet = snippet if len(snippet) <= 60 else snippet[:57] + '...'
            print(f'{label}\t{p:.4f}\t{snippet}')
    return 0


def run(argv: Sequence[str] = None) -> int:
    """``imdb-sentiment predict ARGV`` in this process."""
    return main(*flags.parse(NAME, argv or []))
