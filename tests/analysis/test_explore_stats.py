"""Explore's statistics as plain functions, by hand and against numpy: percentiles of a histogram,
log odds, discriminative words, coverage and truncation curves."""

import numpy as np
import pytest

from analysis import explore_stats as es
from transforms import schema


def test_percentile_of_a_histogram_equals_numpy_on_the_raw_values():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 50, size=997)
    histogram = list(zip(*np.unique(values, return_counts=True)))
    for q in (0, 5, 25, 50, 75, 95, 99, 100):
        assert es.percentile(histogram, q) == pytest.approx(np.percentile(values, q))
    assert es.percentile([(7, 1)], 50) == 7 and np.isnan(es.percentile([], 50))
    assert es.describe([(1, 2), (4, 2)]) == {'count': 4, 'mean': 2.5, 'min': 1, 'max': 4,
                                             'p5': 1.0, 'p25': 1.0, 'p50': 2.5, 'p75': 4.0,
                                             'p95': 4.0, 'p99': 4.0}
    assert es.merge_histograms([[(1, 2), (3, 1)], [(3, 4)]]) == [(1, 2), (3, 5)]


def test_log_odds_by_hand():
    # Equal counts in equally large corpora: no lean either way.
    delta, z = es.log_odds([10, 5], [10, 5], [2, 1], 100, 100, 20)
    assert np.allclose(delta, 0) and np.allclose(z, 0)
    # One word, written out: y_a=30, y_b=10, alpha=4, n_a=n_b=100, alpha_0=40.
    delta, z = es.log_odds([30], [10], [4], 100, 100, 40)
    by_hand = np.log(34 / (100 + 40 - 34)) - np.log(14 / (100 + 40 - 14))
    assert delta[0] == pytest.approx(by_hand)
    assert z[0] == pytest.approx(by_hand / np.sqrt(1 / 34 + 1 / 14))
    # Swapping the corpora flips the sign; a stronger prior shrinks towards zero.
    assert es.log_odds([10], [30], [4], 100, 100, 40)[0][0] == pytest.approx(-by_hand)
    assert abs(es.log_odds([30], [10], [40], 100, 100, 400)[0][0]) < abs(by_hand)


def test_discriminative_words_prefer_reliable_over_lucky_ratios():
    table = [('great', [300, 100, 0]), ('awful', [20, 220, 0]), ('rare', [3, 0, 0]),
             ('the', [1000, 1000, 0])]
    tokens = {schema.POSITIVE: 5000, schema.NEGATIVE: 5000, es.UNLABELED: 0}
    result = es.discriminative_words(table, tokens, top=3)
    assert [r['word'] for r in result[schema.POSITIVE]] == ['great', 'rare']
    assert [r['word'] for r in result[schema.NEGATIVE]] == ['awful']
    assert es.discriminative_words(table, {schema.POSITIVE: 5000}, 3)[schema.NEGATIVE] == []


def test_coverage_and_truncation_curves_by_hand():
    # Word counts 5, 3, 1, 1 (10 tokens) as a count-of-counts histogram.
    assert es.coverage_curve([(5, 1), (3, 1), (1, 2)], [0, 1, 2, 3, 4, 100]) == [
        (0, 0.0), (1, 0.5), (2, 0.8), (3, 0.9), (4, 1.0), (100, 1.0)]
    assert es.coverage_curve([], [10]) == [(10, 0.0)]
    assert es.share_longer_than([(10, 1), (20, 2), (30, 1)], [5, 10, 25, 30]) == [
        (5, 1.0), (10, 0.75), (25, 0.25), (30, 0.0)]
    chart = es.binned_shares({'x': [(0, 1), (5, 1), (50, 2)]}, upper=10, bins=2)
    assert chart == {'edges': [0.0, 5.0, 10.0], 'shares': {'x': [0.25, 0.75]}}
