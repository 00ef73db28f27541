"""The model gate's arithmetic: McNemar's test and the verdict's thresholds, on small made-up
metrics."""

import math

import pytest

from analysis import gate


def test_mcnemar_exact_and_chi_square():
    # Exact: 1 of 10 discordant pairs -> two-sided binomial tail 2 * 11/1024.
    small = gate.mcnemar(1, 9)
    assert small['method'] == 'exact binomial'
    assert small['p_value'] == pytest.approx(2 * 11 / 1024)
    # Chi-square with continuity correction: (|60 - 30| - 1)^2 / 90 = 9.344...
    large = gate.mcnemar(60, 30)
    assert large['statistic'] == pytest.approx(29 ** 2 / 90)
    assert large['p_value'] == pytest.approx(math.erfc(math.sqrt(29 ** 2 / 90 / 2)))
    assert gate.mcnemar(0, 0)['p_value'] == 1.0


def _metrics(accuracy, auc=0.95, ece=0.02, slices=None, labelled=1000):
    return {'accuracy': accuracy, 'roc_auc': auc, 'calibration': {'ece': ece},
            'error_slices': slices or {}, 'labelled': labelled}


def test_the_verdict_checks_each_threshold_and_says_why():
    t = gate.Thresholds()
    assert gate.verdict(_metrics(0.9), _metrics(0.9), t)['blessed'] is True
    worse = gate.verdict(_metrics(0.88), _metrics(0.9), t)
    assert worse['blessed'] is False
    failed = [c['check'] for c in worse['checks'] if not c['passed']]
    assert failed == ['accuracy against the baseline']
    assert gate.verdict(_metrics(0.9, ece=0.08), _metrics(0.9), t)['blessed'] is False
    assert gate.verdict(_metrics(0.9, auc=0.90), _metrics(0.9), t)['blessed'] is False
    # A slice of 300 reviews losing 5 points fails; one of 50 reviews is too small to count.
    mine = {'length_words': {'long': {'count': 300, 'errors': 60},
                             'tiny': {'count': 50, 'errors': 25}}}
    theirs = {'length_words': {'long': {'count': 300, 'errors': 45},
                               'tiny': {'count': 50, 'errors': 5}}}
    sliced = gate.verdict(_metrics(0.9, slices=mine), _metrics(0.9, slices=theirs), t)
    assert [c for c in sliced['checks'] if c['check'] == 'slices'][0]['detail'].startswith(
        'length_words=long (300 reviews): -0.0500')
    # Without a baseline, the floor alone decides.
    alone = gate.verdict(_metrics(0.79, ece=0.5), None, t)
    assert alone['blessed'] is False and [c['check'] for c in alone['checks']] == [
        'enough reviews', 'accuracy floor']
    assert gate.verdict(_metrics(0.81, ece=0.5), None, t)['blessed'] is True


def test_no_verdict_rests_on_too_few_reviews_and_each_states_what_it_can_detect():
    t = gate.Thresholds()
    one = gate.verdict(_metrics(1.0, labelled=1), None, t)
    assert one['blessed'] is False and one['reviews'] == 1
    assert one['checks'][0] == {'check': 'enough reviews', 'passed': False, 'detail': (
        '1 labelled reviews, at least 200 (the smallest difference they detect: 1.0000)')}
    enough = gate.verdict(_metrics(0.9, labelled=200), None, t)
    assert enough['blessed'] is True
    # 1.96 * sqrt(0.5 / n): 0.098 for 200 reviews, 0.0196 for 5,000.
    assert enough['min_detectable_difference'] == pytest.approx(0.098, abs=1e-3)
    assert gate.min_detectable_difference(5000) == pytest.approx(0.0196, abs=1e-4)
    assert gate.min_detectable_difference(0) is None


def test_a_file_whose_labels_the_champion_contradicts_is_suspect():
    on_gate = _metrics(0.88, labelled=200)
    flipped = gate.suspect_data(on_gate, _metrics(0.12, labelled=100), 0.10)
    assert flipped['suspect'] is True and flipped['drop'] == pytest.approx(0.76)
    assert 'agrees with 0.1200 of the new labels (100 reviews)' in flipped['detail']
    # A harder but honest file: 8 points lower is within 0.10 plus the samples' margin.
    assert gate.suspect_data(on_gate, _metrics(0.80, labelled=100), 0.10)['suspect'] is False
    # The margin shrinks with more reviews: 0.15 lower is suspect on 5,000 reviews each,
    # not on 50.
    assert gate.suspect_data(_metrics(0.88, labelled=5000), _metrics(0.73, labelled=5000),
                             0.10)['suspect'] is True
    assert gate.suspect_data(_metrics(0.88, labelled=50), _metrics(0.73, labelled=50),
                             0.10)['suspect'] is False
    judged = gate.verdict(_metrics(0.9), _metrics(0.9), gate.Thresholds(), new_data=flipped)
    assert judged['blessed'] is False and judged['checks'][-1]['check'] == 'new data labels'
