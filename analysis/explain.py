"""Which words drove a prediction: occlusion over the raw text.

Each of the model's tokens is removed in turn and the review re-scored through the
exported model; a token's weight is how much the positive probability fell without it
(positive weight: the token pushed towards 'positive'). Model-agnostic: it needs
only the raw-text signature, so it explains exactly what is served.

The tokens are the model's own: ``token_spans`` finds, in the raw text, the spans of
the tokens that transforms/cleaning.py makes (HTML tags removed, letters, digits and
inner apostrophes kept, '!' and '?' tokens of their own), so a shaded piece is never
a fragment such as ``/>While``.
"""

import re
from typing import Callable, Dict, Iterator, List, Sequence, Tuple

import apache_beam as beam

_TAG = re.compile(r'<[^>]*>')
# A run of letters and digits, with apostrophes only between them ("don't", not "'quoted'"),
# as cleaning.normalize leaves it; with keep_marks '!' and '?' are tokens of their own.
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_TOKEN_OR_MARK = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[!?]")


def token_spans(text: str, max_words: int, keep_marks: bool = True) -> List[Tuple[int, int]]:
    """(start, end) in ``text`` of its first ``max_words`` tokens, as the model's cleaning
    makes them; the text inside HTML tags (``<br />``) is never a token."""
    blanked = _TAG.sub(lambda m: ' ' * len(m.group()), text)
    pattern = _TOKEN_OR_MARK if keep_marks else _TOKEN
    return [m.span() for m in pattern.finditer(blanked)][:max_words]


def occlusion_variants(text: str, max_words: int) -> Tuple[List[Tuple[int, int]], List[str]]:
    """(the spans of the first ``max_words`` tokens, the texts to score: the review itself,
    then the review without each of those tokens in turn)."""
    spans = token_spans(text, max_words)
    return spans, [text] + [text[:s] + text[e:] for s, e in spans]


def weights_from_scores(spans: List[Tuple[int, int]], scores: Sequence[float]) -> List[Dict]:
    """[{start, end, weight}]: how much P(positive) fell without each token."""
    base = scores[0]
    return [{'start': s, 'end': e, 'weight': base - p} for (s, e), p in zip(spans, scores[1:])]


def occlusion_weights(text: str, score: Callable[[Sequence[str]], List[float]],
                      max_words: int = 400) -> List[Dict]:
    """[{start, end, weight}] for the first ``max_words`` tokens of ``text``."""
    spans, variants = occlusion_variants(text, max_words)
    return weights_from_scores(spans, score(variants))


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
    """The list of reported reviews (Top.Of's one element) -> each review dict with
    ``tokens``: its occlusion segments.

    Every occluded variant of every review goes through the model in large batches, and a
    review is occluded only over the tokens the network reads (``max_words``: its token
    length), so explaining the reported errors costs a few batches, not one small call per
    review. The variants go through shortest first, so that a batch holds texts of similar
    length and the model's LSTM runs only as far as its longest. Batches of 256, as
    RunInference scores: batches of 1,024 variants of 400 tokens raised the score job's
    peak RSS from 1,368 MB (``--no-explain``) to 2,595 MB (``benchmarks/score_speed.py``,
    25,000 reviews). The model comes in ``setup`` from the process's shared load (the one
    RunInference scored with, when it is still held).
    """

    def __init__(self, model_dir: str, review_key: str, max_words: int = 400,
                 batch_size: int = 256):
        self._model_dir = model_dir
        self._review_key = review_key
        self._max_words = max_words
        self._batch_size = batch_size
        self._model = None

    def setup(self) -> None:
        from transforms.beam.inference import load_classifier
        self._model = load_classifier(self._model_dir)

    def process(self, rows: List[Dict]) -> Iterator[Dict]:
        plans = [occlusion_variants(r[self._review_key], self._max_words) for r in rows]
        scores = _score_by_length(self._model, [t for _, variants in plans for t in variants],
                                  self._batch_size)
        start = 0
        for row, (spans, variants) in zip(rows, plans):
            weights = weights_from_scores(spans, scores[start:start + len(variants)])
            start += len(variants)
            yield dict(row, tokens=segments(row[self._review_key], weights))


def _score_by_length(model, texts: List[str], batch_size: int) -> List[float]:
    """``score_texts`` of ``texts``, scored in order of length, returned in their order."""
    from transforms.beam.inference import score_texts
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    scores = [0.0] * len(texts)
    for i, p in zip(order, score_texts(model, [texts[i] for i in order], batch_size)):
        scores[i] = p
    return scores
