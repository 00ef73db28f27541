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


def _metrics(accuracy, auc=0.95, ece=0.02, slices=None):
    return {'accuracy': accuracy, 'roc_auc': auc, 'calibration': {'ece': ece},
            'error_slices': slices or {}}


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
        'accuracy floor']
    assert gate.verdict(_metrics(0.81, ece=0.5), None, t)['blessed'] is True
