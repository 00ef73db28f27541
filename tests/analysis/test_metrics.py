"""Scoring metrics from the Beam combiner's summary, checked against scikit-learn."""

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from sklearn import metrics as sk

from analysis import metrics
from analysis.score_summary import ScoreSummaryFn
from analysis.explain import occlusion_weights, segments
from transforms import schema


def _rows(n=3000, seed=0, quantize=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    if quantize:  # one value per histogram bin: binning then loses nothing
        p = (np.minimum((p * metrics.BINS).astype(int), metrics.BINS - 1) + 0.5) / metrics.BINS
    rows = [{'probability': float(pi), 'predicted': 'positive' if pi > 0.5 else 'negative',
             'label': 'positive' if yi else 'negative',
             'review': 'not good at all' if i % 3 == 0 else 'a fine film ' * (i % 300),
             'rating': None}
            for i, (pi, yi) in enumerate(zip(p, y))]
    return rows, y, p


def _summary(rows):
    fn = ScoreSummaryFn()
    half = len(rows) // 2
    accs = []
    for part in (rows[:half], rows[half:]):
        acc = fn.create_accumulator()
        for r in part:
            acc = fn.add_input(acc, r)
        accs.append(acc)
    return fn.extract_output(fn.merge_accumulators(accs))


def test_metrics_equal_sklearn_on_quantized_scores():
    rows, y, p = _rows(quantize=True)
    m = metrics.summarize(_summary(rows))
    pred = (p > 0.5).astype(int)
    assert m['accuracy'] == pytest.approx(sk.accuracy_score(y, pred))
    assert m['confusion_matrix'] == sk.confusion_matrix(y, pred).tolist()
    report = sk.classification_report(y, pred, output_dict=True,
                                      target_names=['negative', 'positive'])
    for cls in ('negative', 'positive', 'macro avg'):
        for k in ('precision', 'recall'):
            assert m['classification_report'][cls][k] == pytest.approx(report[cls][k])
        assert m['classification_report'][cls]['f1'] == pytest.approx(report[cls]['f1-score'])
    assert m['log_loss'] == pytest.approx(sk.log_loss(y, p), rel=1e-9)
    assert m['roc_auc'] == pytest.approx(sk.roc_auc_score(y, p), abs=1e-9)
    assert m['average_precision'] == pytest.approx(sk.average_precision_score(y, p), abs=1e-9)


def test_curves_close_to_sklearn_on_continuous_scores():
    rows, y, p = _rows(seed=1)
    m = metrics.summarize(_summary(rows))
    assert m['roc_auc'] == pytest.approx(sk.roc_auc_score(y, p), abs=1e-3)
    assert m['average_precision'] == pytest.approx(sk.average_precision_score(y, p), abs=2e-3)
    assert m['log_loss'] == pytest.approx(sk.log_loss(y, p), rel=1e-9)


def test_areas_are_undefined_with_one_class_as_in_sklearn():
    rows, y, p = _rows(seed=2)
    negatives = [r for r in rows if r['label'] == 'negative']
    m = metrics.summarize(_summary(negatives))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try:  # sklearn: undefined, as nan with a warning (older releases raise)
            assert np.isnan(sk.roc_auc_score([0] * len(negatives),
                                             [r['probability'] for r in negatives]))
        except ValueError:
            pass
    assert m['roc_auc'] is None and m['average_precision'] is None
    assert m['accuracy'] is not None
    from analysis import score_charts
    assert set(score_charts.charts(m)) >= {'roc', 'pr'}  # the charts still render


def test_calibration_and_slices():
    rows, y, p = _rows(n=1000, seed=2)
    m = metrics.summarize(_summary(rows))
    cal = m['calibration']
    bins = np.minimum((p * 10).astype(int), 9)
    expected = sum(abs(p[bins == b].mean() - y[bins == b].mean()) * (bins == b).sum()
                   for b in range(10) if (bins == b).any()) / len(p)
    assert cal['ece'] == pytest.approx(expected)
    neg = m['error_slices']['negation']
    assert neg['with negation']['count'] == sum(1 for r in rows if 'not' in r['review'])
    errors = sum((pi > 0.5) != yi for pi, yi in zip(p, y))
    assert sum(v['errors'] for v in m['error_slices']['length_words'].values()) == errors


def test_unlabelled_rows_give_no_accuracy():
    rows, _, _ = _rows(n=100)
    for r in rows:
        r['label'] = None
    m = metrics.summarize(_summary(rows))
    assert 'accuracy' not in m and m['scored'] == 100
    assert m['positive_rate'] == sum(r['predicted'] == 'positive' for r in rows) / 100
    assert sum(m['score_histograms'][schema.UNLABELED]) == 100


def test_combiner_in_a_pipeline_matches_direct_use():
    rows, _, _ = _rows(n=500, seed=3)
    expected = metrics.summarize(_summary(rows))['confusion_matrix']
    with TestPipeline() as p:
        out = (p | beam.Create(rows) | beam.CombineGlobally(ScoreSummaryFn())
               | beam.Map(lambda s: metrics.summarize(s)['confusion_matrix']))
        assert_that(out, equal_to([expected]))


def test_occlusion_finds_the_words_that_matter():
    def score(texts):  # a transparent scorer: each 'great' adds, each 'awful' subtracts
        return [0.5 + 0.1 * t.split().count('great') - 0.1 * t.split().count('awful')
                for t in texts]
    text = 'A great film,  awful ending'
    weights = occlusion_weights(text, score)
    by_word = {text[w['start']:w['end']]: w['weight'] for w in weights}
    assert by_word['great'] == pytest.approx(0.1) and by_word['awful'] == pytest.approx(-0.1)
    assert by_word['A'] == pytest.approx(0.0)
    assert ''.join(s['text'] for s in segments(text, weights)) == text
