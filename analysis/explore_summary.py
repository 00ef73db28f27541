"""The explore job's summary: accepted records -> small exact summaries (its profile).

``ProfileReviews`` tokenizes with the same cleaning as preprocess and reduces any
number of reviews, with Beam combiners, to histograms and word-count tables whose
size does not grow with the number of reviews; ``analysis.explore_stats`` turns
them into statistics. No row is ever collected into one process.
"""

import collections
import hashlib
from typing import Dict, Iterator, List, NamedTuple

import apache_beam as beam

from analysis.explore_stats import ALL, CHARS, LABELS, PART_COUNT_OF_COUNTS, PART_DUPLICATES, \
    PART_FREQUENT, PART_REPEATED, PART_SHORTEST, TOKENS, length_part, top_part
from transforms import schema
from transforms.beam.split import normalized_text
from transforms.tft.cleaning import CleaningConfig

# The log-odds table keeps this many most frequent labelled words: bounded whatever
# the input size, and a rarer word is too rare for a confident z-score anyway.
LOG_ODDS_WORDS = 20000
EXAMPLES = 10
EXCERPT_CHARS = 300
_WORDS = 'words'


class Review(NamedTuple):
    """What the statistics need of one accepted review."""
    label: int          # index into LABELS
    chars: int
    tokens: int
    duplicate_key: bytes
    id: str
    excerpt: str


class _Tokenize(beam.DoFn):
    """A batch of accepted records -> a Review per record, and (word, counts per label)
    for the batch's distinct words, tagged 'words'.

    The cleaning is transforms.tft.cleaning.tokenize, run eagerly on the whole batch, so
    the words are exactly the tokens preprocess feeds its vocabulary. Words are counted
    inside TensorFlow: Python sees each distinct word once per batch, not every token.
    """

    def __init__(self, config: CleaningConfig):
        self._config = config

    def setup(self) -> None:
        # The DoFn holds no TensorFlow object before setup(), so it pickles as its config.
        import tensorflow as tf
        from transforms.tft.cleaning import tokenize
        self._tf, self._tokenize = tf, tokenize

    def process(self, batch: List[Dict]) -> Iterator:
        tf = self._tf
        reviews = [r[schema.REVIEW_KEY] for r in batch]
        labels = [LABELS.index(schema.label_name(r[schema.LABEL_KEY])) for r in batch]
        tokens = self._tokenize(tf.constant(reviews), self._config)
        lengths = tokens.row_lengths()
        words, index = tf.unique(tokens.flat_values)
        per_label = tf.math.unsorted_segment_sum(
            tf.one_hot(tf.repeat(tf.constant(labels), lengths), len(LABELS), dtype=tf.int64),
            index, tf.size(words))
        for record, review, label, n in zip(batch, reviews, labels, lengths.numpy().tolist()):
            key = hashlib.blake2b(normalized_text(review).encode('utf-8'), digest_size=16)
            yield Review(label, len(review), n, key.digest(), record[schema.ID_KEY],
                         review[:EXCERPT_CHARS])
        for word, counts in zip(words.numpy().tolist(), per_label.numpy().tolist()):
            yield beam.pvalue.TaggedOutput(_WORDS, (word.decode('utf-8', 'replace'), counts))


class SumCounts(beam.CombineFn):
    """Equal-length lists of counts -> their element-wise sum."""

    def __init__(self, width: int):
        self._width = width

    def create_accumulator(self) -> List[int]:
        return [0] * self._width

    def add_input(self, acc: List[int], counts) -> List[int]:
        return [a + c for a, c in zip(acc, counts)]

    def merge_accumulators(self, accs) -> List[int]:
        return [sum(column) for column in zip(*accs)]

    def extract_output(self, acc: List[int]) -> List[int]:
        return acc


class Histogram(beam.CombineFn):
    """Integers -> their exact histogram, [[value, count], ...] sorted by value.

    The accumulator grows with the number of distinct values (a few thousand review
    lengths), not with the number of elements.
    """

    def create_accumulator(self) -> collections.Counter:
        return collections.Counter()

    def add_input(self, acc: collections.Counter, value: int) -> collections.Counter:
        acc[value] += 1
        return acc

    def merge_accumulators(self, accs) -> collections.Counter:
        accs = iter(accs)
        merged = next(accs)
        for acc in accs:
            merged.update(acc)
        return merged

    def extract_output(self, acc: collections.Counter) -> List[List[int]]:
        return [[v, n] for v, n in sorted(acc.items())]


class _DuplicateGroup(beam.CombineFn):
    """Reviews with one normalized text -> [counts per label, smallest id, its excerpt]."""

    def create_accumulator(self) -> list:
        return [[0] * len(LABELS), None, '']

    def add_input(self, acc: list, review: Review) -> list:
        acc[0][review.label] += 1
        if acc[1] is None or review.id < acc[1]:
            acc[1:] = [review.id, review.excerpt]
        return acc

    def merge_accumulators(self, accs) -> list:
        accs = list(accs)
        named = [a for a in accs if a[1] is not None] or accs
        first = min(named, key=lambda a: a[1] or '')
        return [[sum(c) for c in zip(*(a[0] for a in accs))], first[1], first[2]]

    def extract_output(self, acc: list) -> list:
        return acc


def _labelled(counts: List[int]) -> int:
    return counts[LABELS.index(schema.POSITIVE)] + counts[LABELS.index(schema.NEGATIVE)]


class ProfileReviews(beam.PTransform):
    """Accepted record dicts -> (summary name, JSON-ready value) pairs, the input of
    ``analysis.explore_stats.summarize``: length histograms per measure and label,
    duplicate counts and the most repeated texts, the shortest reviews, the
    count-of-counts of words, the top words per label and the log-odds word table.
    """

    def __init__(self, config: CleaningConfig, top_words: int,
                 min_batch_size: int = 256, max_batch_size: int = 4096):
        super().__init__()
        self._config = config
        self._top = top_words
        self._batch = dict(min_batch_size=min_batch_size, max_batch_size=max_batch_size)

    def expand(self, records):
        tokenized = (records
                     | 'Batch' >> beam.BatchElements(**self._batch)
                     | 'Tokenize' >> beam.ParDo(_Tokenize(self._config)).with_outputs(
                         _WORDS, main='reviews'))
        reviews = tokenized.reviews
        words = tokenized[_WORDS] | 'SumWords' >> beam.CombinePerKey(SumCounts(len(LABELS)))
        groups = (reviews
                  | 'ByText' >> beam.Map(lambda r: (r.duplicate_key, r))
                  | 'GroupTexts' >> beam.CombinePerKey(_DuplicateGroup())
                  | 'Repeated' >> beam.Filter(lambda kv: sum(kv[1][0]) > 1)
                  | 'DropKey' >> beam.Values())
        both = (LABELS.index(schema.POSITIVE), LABELS.index(schema.NEGATIVE))
        parts = [
            reviews
            | 'Lengths' >> beam.FlatMap(lambda r: [((CHARS, r.label), r.chars),
                                                   ((TOKENS, r.label), r.tokens)])
            | 'LengthHistograms' >> beam.CombinePerKey(Histogram())
            | 'NameLengths' >> beam.Map(lambda kv: (
                length_part(kv[0][0], LABELS[kv[0][1]]), kv[1])),
            groups
            | 'GroupSizes' >> beam.Map(lambda g: [
                1, sum(g[0]) - 1, int(all(g[0][i] for i in both)),
                int(any(g[0][i] for i in both) and g[0][LABELS.index(schema.UNLABELED)] > 0)])
            | 'SumDuplicates' >> beam.CombineGlobally(SumCounts(4))
            | 'NameDuplicates' >> beam.Map(lambda c: (PART_DUPLICATES, c)),
            groups
            | 'MostRepeated' >> beam.combiners.Top.Of(EXAMPLES, key=lambda g: (sum(g[0]), g[1]))
            | 'NameRepeated' >> beam.Map(lambda top: (PART_REPEATED, [
                {'count': sum(c), 'labels': dict(zip(LABELS, c)), 'id': i, 'excerpt': e}
                for c, i, e in top])),
            reviews
            | 'Shortest' >> beam.combiners.Top.Of(EXAMPLES, key=lambda r: (r.chars, r.id),
                                                  reverse=True)
            | 'NameShortest' >> beam.Map(lambda top: (PART_SHORTEST, [
                {'chars': r.chars, 'label': LABELS[r.label], 'id': r.id, 'excerpt': r.excerpt}
                for r in top])),
            words
            | 'WordTotals' >> beam.Map(lambda kv: sum(kv[1]))
            | 'CountOfCounts' >> beam.CombineGlobally(Histogram())
            | 'NameCountOfCounts' >> beam.Map(lambda h: (PART_COUNT_OF_COUNTS, h)),
            words
            | 'Frequent' >> beam.combiners.Top.Of(LOG_ODDS_WORDS, key=lambda kv: (
                _labelled(kv[1]), kv[0]))
            | 'NameFrequent' >> beam.Map(lambda top: (PART_FREQUENT, top)),
        ]
        for name in (ALL, *LABELS):
            index = None if name == ALL else LABELS.index(name)
            key = (lambda kv: (sum(kv[1]), kv[0])) if index is None else (
                lambda kv, i=index: (kv[1][i], kv[0]))
            parts.append(words
                         | f'Top[{name}]' >> beam.combiners.Top.Of(self._top, key=key)
                         | f'Name[{name}]' >> beam.Map(
                             lambda top, n=name: (top_part(n), top)))
        return parts | 'Flatten' >> beam.Flatten()
