"""Data-exploration statistics from the small summaries the explore job's combiners make.

Pure functions: no Beam, no TensorFlow, no I/O. The pipeline reduces any number of
reviews to exact histograms (value -> count) and word-count tables; everything
here works on those, so the results are exact whatever the input size.
"""

import math
from typing import Dict, Iterable, List, Sequence, Tuple

import numpy as np

from transforms import schema

# The parts the explore job's profile stage (analysis.explore_summary) writes, read back here:
# per-label count tuples are ordered as LABELS.
UNLABELED = schema.UNLABELED
LABELS = (schema.POSITIVE, schema.NEGATIVE, UNLABELED)
ALL = 'all'   # every review, whatever its label
CHARS, TOKENS = 'chars', 'tokens'
MEASURES = (CHARS, TOKENS)
PART_DUPLICATES = 'duplicates'
PART_REPEATED = 'repeated'
PART_SHORTEST = 'shortest'
PART_COUNT_OF_COUNTS = 'count_of_counts'
PART_FREQUENT = 'frequent'
label_name = schema.label_name


def length_part(measure: str, label: str) -> str:
    return f'length:{measure}:{label}'


def top_part(label: str) -> str:
    return f'top:{label}'


PERCENTILES = (5, 25, 50, 75, 95, 99)
COVERAGE_SIZES = (100, 1000, 5000, 10000, 20000, 30000, 50000, 100000)
TRUNCATION_LENGTHS = (50, 100, 128, 200, 256, 300, 400, 500, 512, 600, 800, 1000)
MIN_COUNTS = (1, 2, 5, 10)
CHART_BINS = 60

Histogram = Sequence[Tuple[int, int]]   # (value, number of reviews with it), any order


def _arrays(histogram: Histogram) -> Tuple[np.ndarray, np.ndarray]:
    pairs = sorted((int(v), int(n)) for v, n in histogram if n)
    values = np.array([v for v, _ in pairs], dtype=np.int64)
    return values, np.array([n for _, n in pairs], dtype=np.int64)


def merge_histograms(histograms: Iterable[Histogram]) -> List[Tuple[int, int]]:
    """Several histograms -> one, sorted by value."""
    merged: Dict[int, int] = {}
    for histogram in histograms:
        for value, count in histogram:
            merged[int(value)] = merged.get(int(value), 0) + int(count)
    return sorted(merged.items())


def percentile(histogram: Histogram, q: float) -> float:
    """The q-th percentile of the values a histogram describes, exactly as
    ``numpy.percentile`` and ``pandas.Series.quantile`` compute it on the raw values
    (linear interpolation between the two nearest ranks)."""
    values, counts = _arrays(histogram)
    if not counts.size:
        return math.nan
    cumulative = np.cumsum(counts)
    rank = (cumulative[-1] - 1) * q / 100.0
    low = math.floor(rank)
    # The value at 0-based rank i is the first whose cumulative count exceeds i.
    at = lambda i: float(values[np.searchsorted(cumulative, i, side='right')])
    high = min(low + 1, int(cumulative[-1]) - 1)
    return at(low) + (rank - low) * (at(high) - at(low))


def describe(histogram: Histogram) -> Dict:
    """count, mean, min, max and the ``PERCENTILES`` of a histogram."""
    values, counts = _arrays(histogram)
    total = int(counts.sum())
    if not total:
        return {'count': 0}
    summary = {'count': total, 'mean': round(float((values * counts).sum()) / total, 2),
               'min': int(values[0]), 'max': int(values[-1])}
    summary.update({f'p{q}': round(percentile(histogram, q), 2) for q in PERCENTILES})
    return summary


def share_longer_than(histogram: Histogram, lengths: Iterable[int]) -> List[Tuple[int, float]]:
    """(n, share of reviews with more than n tokens) for each n: what --max-tokens n cuts."""
    values, counts = _arrays(histogram)
    total = counts.sum()
    return [(int(n), float(counts[values > n].sum() / total) if total else 0.0) for n in lengths]


def coverage_curve(count_of_counts: Histogram, sizes: Iterable[int]) -> List[Tuple[int, float]]:
    """(N, share of all tokens that are among the N most frequent words) for each N.

    ``count_of_counts`` holds (number of occurrences, number of words seen that often);
    it is all the curve needs, and its size grows with the largest count, not the vocabulary.
    """
    occurrences, words = _arrays(count_of_counts)
    ranked = np.repeat(occurrences[::-1], words[::-1])   # word counts, most frequent first
    covered = np.concatenate([[0], np.cumsum(ranked)])
    total = covered[-1]
    return [(int(n), float(covered[min(n, ranked.size)] / total) if total else 0.0)
            for n in sizes]


def log_odds(y_a: np.ndarray, y_b: np.ndarray, prior: np.ndarray,
             n_a: float, n_b: float, prior_total: float) -> Tuple[np.ndarray, np.ndarray]:
    """Log-odds ratio of each word between corpora a and b with an informative Dirichlet
    prior, and its z-score (Monroe, Colaresi & Quinn 2008, "Fightin' Words", eq. 16-22).

    y_a, y_b: the words' counts in a and b; n_a, n_b: all tokens of a and b (not only
    of these words); prior: the words' pseudo-counts alpha_w, summing to prior_total
    over the whole vocabulary.

        delta_w = log((y_a + alpha_w) / (n_a + alpha_0 - y_a - alpha_w))
                - log((y_b + alpha_w) / (n_b + alpha_0 - y_b - alpha_w))
        z_w = delta_w / sqrt(1 / (y_a + alpha_w) + 1 / (y_b + alpha_w))

    The prior shrinks rare words towards zero, so z ranks words by how reliably they
    separate the corpora, not by raw ratios that a word seen twice would win.
    Returns (delta, z); positive values lean towards a.
    """
    y_a, y_b, prior = (np.asarray(x, dtype=np.float64) for x in (y_a, y_b, prior))
    delta = (np.log((y_a + prior) / (n_a + prior_total - y_a - prior))
             - np.log((y_b + prior) / (n_b + prior_total - y_b - prior)))
    return delta, delta / np.sqrt(1.0 / (y_a + prior) + 1.0 / (y_b + prior))


def discriminative_words(table: Sequence[Tuple[str, Sequence[int]]], tokens_by_label: Dict,
                         top: int) -> Dict:
    """The ``top`` words leaning most to each label by ``log_odds`` z-score.

    ``table`` holds (word, (positive, negative, unlabeled) counts) for the frequent
    words. The prior is each word's share of ALL reviews (unlabeled ones included,
    a background corpus in Monroe et al.'s sense) scaled to the labelled token count.
    """
    n_pos, n_neg = tokens_by_label.get(schema.POSITIVE, 0), tokens_by_label.get(schema.NEGATIVE, 0)
    total = sum(tokens_by_label.values())
    if not table or not n_pos or not n_neg:
        return {schema.POSITIVE: [], schema.NEGATIVE: []}
    counts = np.array([c for _, c in table], dtype=np.float64)
    prior = counts.sum(axis=1) / total * (n_pos + n_neg)
    delta, z = log_odds(counts[:, 0], counts[:, 1], prior, n_pos, n_neg, n_pos + n_neg)
    order = np.argsort(-z, kind='stable')
    row = lambda i: {'word': table[i][0], 'z': round(float(z[i]), 3),
                     'log_odds': round(float(delta[i]), 4),
                     schema.POSITIVE: int(counts[i, 0]), schema.NEGATIVE: int(counts[i, 1])}
    return {schema.POSITIVE: [row(i) for i in order[:top] if z[i] > 0],
            schema.NEGATIVE: [row(i) for i in order[::-1][:top] if z[i] < 0]}


def binned_shares(histograms: Dict[str, Histogram], upper: int, bins: int = CHART_BINS) -> Dict:
    """Equal-width bins over [0, upper] (the last also holds everything longer) and, per
    label, the share of its reviews in each bin: chart-ready and comparable across labels."""
    edges = np.linspace(0, max(upper, 1), bins + 1)
    shares = {}
    for label, histogram in histograms.items():
        values, counts = _arrays(histogram)
        if counts.sum():
            index = np.clip(np.searchsorted(edges, values, side='right') - 1, 0, bins - 1)
            binned = np.bincount(index, weights=counts, minlength=bins)
            shares[label] = [round(float(s), 6) for s in binned / counts.sum()]
    return {'edges': [round(float(e), 2) for e in edges], 'shares': shares}


def _top_words(table: Sequence, label: str, top: int) -> List[Dict]:
    """(word, counts per label) rows ranked for ``label`` -> [{word, count}], no zero counts."""
    count = (lambda c: sum(c)) if label == ALL else (lambda c: c[LABELS.index(label)])
    return [{'word': w, 'count': int(count(c))} for w, c in table if count(c)][:top]


def top_content_words(table: Sequence, labels: Sequence[str], top: int) -> Dict[str, List[Dict]]:
    """The most frequent words of each label with the stop words out (the cleaning's list,
    negations kept): what the reviews talk about, where the raw top words are 'the', 'a'."""
    from transforms.tft.cleaning import stopwords
    stop = set(stopwords())
    content = [(w, c) for w, c in table if w not in stop and w.isalpha() and len(w) > 1]
    return {label: _top_words(sorted(content, key=lambda wc: -wc[1][LABELS.index(label)]),
                              label, top)
            for label in labels}


def summarize(parts: Dict[str, object], top_words: int) -> Dict:
    """The pipeline's summaries (name -> value) -> the statistics of stats.json."""
    lengths = {m: {label: parts.get(length_part(m, label), []) for label in LABELS}
               for m in MEASURES}
    reviews = {label: sum(n for _, n in lengths[CHARS][label]) for label in LABELS}
    tokens = {label: sum(v * n for v, n in lengths[TOKENS][label]) for label in LABELS}
    present = [label for label in LABELS if reviews[label]]
    overall = {m: merge_histograms(lengths[m].values()) for m in MEASURES}
    texts, copies, conflicting, shared = parts.get(PART_DUPLICATES) or (0, 0, 0, 0)
    count_of_counts = parts.get(PART_COUNT_OF_COUNTS, [])
    longest = max(percentile(overall[TOKENS], 99), 500) if overall[TOKENS] else 500
    return {
        'reviews': dict({'total': sum(reviews.values())}, **reviews),
        'duplicates': {'duplicate_reviews': copies, 'duplicated_texts': texts,
                       'texts_with_conflicting_labels': conflicting,
                       'texts_in_labelled_and_unlabeled': shared},
        'lengths': {m: dict({ALL: describe(overall[m])},
                            **{label: describe(lengths[m][label]) for label in present})
                    for m in MEASURES},
        'length_charts': {m: binned_shares(dict({ALL: overall[m]}, **{
            label: lengths[m][label] for label in present}), int(percentile(overall[m], 99)))
            for m in MEASURES if overall[m]},
        'words': {'tokens': dict({'total': sum(tokens.values())}, **tokens),
                  'distinct': sum(n for _, n in count_of_counts),
                  'seen_at_least': {str(k): sum(n for c, n in count_of_counts if c >= k)
                                    for k in MIN_COUNTS}},
        'top_words': {label: _top_words(parts.get(top_part(label), []), label, top_words)
                      for label in (ALL, *present)},
        'top_content_words': top_content_words(
            parts.get(PART_FREQUENT, []),
            [label for label in (schema.POSITIVE, schema.NEGATIVE) if label in present],
            top_words),
        'log_odds': discriminative_words(parts.get(PART_FREQUENT, []), tokens, top_words),
        'coverage': {
            'table': coverage_curve(count_of_counts, COVERAGE_SIZES),
            'curve': coverage_curve(count_of_counts, sorted(set(
                np.logspace(0, 5, 81).astype(int).tolist())))},
        'truncation': {
            'table': share_longer_than(overall[TOKENS], TRUNCATION_LENGTHS),
            'curve': share_longer_than(overall[TOKENS], np.linspace(0, longest, 101).astype(int))},
        'examples': {'most_repeated': parts.get(PART_REPEATED, []),
                     'shortest': parts.get(PART_SHORTEST, [])},
    }
