"""Which words drove a prediction: occlusion over the raw text.

Each word is removed in turn and the review re-scored through the exported
model; a word's weight is how much the positive probability fell without it
(positive weight: the word pushed towards 'positive'). Model-agnostic: it needs
only the raw-text signature, so it explains exactly what is served.
"""

import re
from typing import Callable, Dict, Iterator, List, Sequence

import apache_beam as beam

_WORD = re.compile(r'\S+')


def word_spans(text: str, max_words: int) -> List[tuple]:
    return [m.span() for m in _WORD.finditer(text)][:max_words]


def occlusion_weights(text: str, score: Callable[[Sequence[str]], List[float]],
                      max_words: int = 400) -> List[Dict]:
    """[{start, end, weight}] for the first ``max_words`` words of ``text``."""
    spans = word_spans(text, max_words)
    variants = [text] + [text[:s] + text[e:] for s, e in spans]
    scores = score(variants)
    base = scores[0]
    return [{'start': s, 'end': e, 'weight': base - p} for (s, e), p in zip(spans, scores[1:])]


def segments(text: str, weights: List[Dict]) -> List[Dict]:
    """The whole text as consecutive {text, weight} pieces (weight None between words),
    ready for a template to highlight; the text itself is never marked up here."""
    pieces, cursor = [], 0
    for w in weights:
        if w['start'] > cursor:
            pieces.append({'text': text[cursor:w['start']], 'weight': None})
        pieces.append({'text': text[w['start']:w['end']], 'weight': w['weight']})
        cursor = w['end']
    if cursor < len(text):
        pieces.append({'text': text[cursor:], 'weight': None})
    return pieces


class ExplainFn(beam.DoFn):
    """Scored review dict -> the same dict with ``tokens``: its occlusion segments.

    Loads the model once per DoFn instance in ``setup``; runs only on the few
    reviews an error report shows.
    """

    def __init__(self, model_dir: str, review_key: str, max_words: int = 400):
        self._model_dir = model_dir
        self._review_key = review_key
        self._max_words = max_words
        self._model = None

    def setup(self) -> None:
        from transforms.inference import Classifier
        self._model = Classifier(self._model_dir)

    def process(self, row: Dict) -> Iterator[Dict]:
        from transforms.inference import score_texts
        text = row[self._review_key]
        weights = occlusion_weights(text, lambda t: score_texts(self._model, t), self._max_words)
        yield dict(row, tokens=segments(text, weights))
