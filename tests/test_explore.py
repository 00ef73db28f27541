"""The explore job: statistics against pandas, the plain functions, reconciliation and
escaping of user text (the report in headless Chromium: test_reports_in_browser.py)."""

import base64
import glob
import os

import apache_beam as beam
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that

from tests.read import read_json, read_jsonl
from analysis import explore_stats as es
from analysis import render
from pipeline import cli
from tests import browser
from tests.datasets import review_rows, write_csv
from transforms import schema
from transforms.tft.cleaning import CleaningConfig, tokenize
from analysis.explore_summary import Histogram, ProfileReviews, SumCounts
from transforms.beam.split import normalized_text

pytestmark = pytest.mark.e2e

# Payloads that change the page if they ever run: the title, or an element's id.
SCRIPT = "<script>document.title='XSS-RAN';document.body.id='xss-ran'</script> awful"
IMG = """<img src=x onerror="this.id='xss-ran';document.title='XSS-RAN'"> great"""
PLAIN_XSS = ['<script>alert(1)</script> bad film', '<img src=x onerror=alert(1)> good film']
BAD_ROWS = [('', 'positive'), ('A film', 'brilliant')]


def _good_rows():
    rows = review_rows(160)
    extra = [(SCRIPT, 'negative'), (IMG, 'positive')] * 2 + [(t, 'negative') for t in PLAIN_XSS]
    # rows[3] again with other case and spacing: a duplicate after normalization.
    return rows[:80] + extra + rows[80:] + [(rows[3][0].upper() + '  ', rows[3][1])]


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp('explore-data')
    good = _good_rows()
    labelled = write_csv(str(folder / 'labelled.csv'), good[:50] + BAD_ROWS + good[50:])
    unlabelled_rows = [(t,) for t, _ in review_rows(200)[150:]] + [(good[0][0],)]
    unlabelled = write_csv(str(folder / 'unlabelled.csv'), unlabelled_rows, header=('review',))
    frame = pd.DataFrame(good + [(r[0], None) for r in unlabelled_rows],
                         columns=['review', 'label']).fillna({'label': es.UNLABELED})
    return {'labelled': labelled, 'unlabelled': unlabelled, 'frame': frame}


@pytest.fixture(scope='module')
def result(data, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('explore-run') / 'explore')
    code = cli.main(['explore', '--input', data['labelled'], '--input', data['unlabelled'],
                     '--output', out, '--max-reject-fraction', '0.05', '--top-words', '15'])
    assert code == 0
    stats = read_json(os.path.join(out, 'stats.json'))
    manifest = read_json(os.path.join(out, schema.MANIFEST_FILE))
    return {'out': out, 'stats': stats, 'manifest': manifest}


@pytest.fixture(scope='module')
def frame(data):
    """The accepted reviews with their lengths and tokens, computed without Beam."""
    df = data['frame'].copy()
    tokens = tokenize(tf.constant(df['review'].tolist()), CleaningConfig()).to_list()
    df['tokens'] = [[t.decode('utf-8') for t in row] for row in tokens]
    df['n_chars'] = df['review'].str.len()
    df['n_tokens'] = df['tokens'].str.len()
    return df


def test_counts_reconcile_and_rejects_are_written(result):
    m, c = result['manifest'], result['manifest']['counts']
    assert m['status'] == 'ok' and m['job'] == 'explore'
    assert c['read'] == c['accepted'] + c['rejected'] and c['rejected'] == len(BAD_ROWS)
    assert c['rejected_by_reason']['empty_review'] == 1
    assert c['rejected_by_reason']['unknown_label'] == 1
    rows = read_jsonl(os.path.join(result['out'], 'rejected', '*.jsonl'))
    assert sorted(r['id'] for r in rows) == ['labelled.csv:51', 'labelled.csv:52']
    assert [i['rows'] for i in m['inputs']] == [c['read'] - 51, 51]
    assert m['wall_time_s'] > 0 and m['versions']['apache-beam']
    assert not [p for p in os.listdir(os.path.dirname(result['out'])) if '.partial-' in p]


def test_label_and_duplicate_counts_match_pandas(result, frame):
    s = result['stats']
    expected = frame['label'].value_counts().to_dict()
    assert s['reviews'] == dict(expected, total=len(frame))
    keys = frame['review'].map(normalized_text)
    sizes = keys.value_counts()
    labels = frame.assign(key=keys).groupby('key')['label'].agg(set)
    both = labels.map(lambda s: {schema.POSITIVE, schema.NEGATIVE} <= s)
    shared = labels.map(lambda s: es.UNLABELED in s and len(s) > 1)
    assert s['duplicates'] == {'duplicate_reviews': int((sizes[sizes > 1] - 1).sum()),
                               'duplicated_texts': int((sizes > 1).sum()),
                               'texts_with_conflicting_labels': int(both.sum()),
                               'texts_in_labelled_and_unlabeled': int(shared.sum())}
    assert s['duplicates']['texts_in_labelled_and_unlabeled'] >= 1
    assert s['duplicates']['duplicated_texts'] >= 4  # the payloads, rows[3], unlabelled copy


def test_length_percentiles_match_pandas(result, frame):
    for measure, column in ((es.CHARS, 'n_chars'), (es.TOKENS, 'n_tokens')):
        groups = {label: values for label, values in frame.groupby('label')[column]}
        groups[es.ALL] = frame[column]
        for label, values in groups.items():
            got = result['stats']['lengths'][measure][label]
            assert got['count'] == len(values) and got['max'] == values.max()
            assert got['mean'] == pytest.approx(values.mean(), abs=0.01)
            for q in es.PERCENTILES:
                assert got[f'p{q}'] == pytest.approx(values.quantile(q / 100), abs=0.01), (
                    measure, label, q)


def test_top_word_counts_match_pandas(result, frame):
    words = frame[['label', 'tokens']].explode('tokens').dropna()
    for label, rows in result['stats']['top_words'].items():
        subset = words if label == es.ALL else words[words['label'] == label]
        expected = subset['tokens'].value_counts()
        assert [r['count'] for r in rows] == expected.iloc[:len(rows)].tolist()
        assert all(expected[r['word']] == r['count'] for r in rows)
    tokens = result['stats']['words']['tokens']
    assert tokens['total'] == len(words)
    assert result['stats']['words']['distinct'] == words['tokens'].nunique()


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


def test_combiners_and_profile_in_a_pipeline():
    records = [{schema.ID_KEY: f'r{i}', schema.REVIEW_KEY: text, schema.LABEL_KEY: label}
               for i, (text, label) in enumerate([
                   ('Great fun, great cast!', schema.POSITIVE), ('Dull.', schema.NEGATIVE),
                   ('dull.  ', None), ('<b>Great</b> fun', schema.POSITIVE)])]

    def check(pairs):
        parts = dict(pairs)
        assert parts[es.length_part(es.TOKENS, schema.POSITIVE)] == [[2, 1], [5, 1]]
        assert parts[es.length_part(es.CHARS, es.UNLABELED)] == [[7, 1]]
        assert parts[es.PART_DUPLICATES] == [1, 1, 0, 1]   # 'Dull.' and 'dull.  '
        assert parts[es.top_part(es.ALL)][0] == ('great', [3, 0, 0])
        assert parts[es.PART_COUNT_OF_COUNTS] == [[1, 2], [2, 2], [3, 1]]
        assert parts[es.PART_SHORTEST][0]['id'] == 'r1'

    with test_pipeline.TestPipeline() as p:
        numbers = p | 'Numbers' >> beam.Create([3, 1, 3, 3])
        assert_that(numbers | beam.CombineGlobally(Histogram()), lambda h: h == [[[1, 1], [3, 3]]],
                    label='Histogram')
        assert_that(p | 'Counts' >> beam.Create([[1, 2], [3, 4]])
                    | beam.CombineGlobally(SumCounts(2)), lambda c: c == [[4, 6]], label='Sum')
        profile = (p | 'Records' >> beam.Create(records)
                   | ProfileReviews(CleaningConfig(), top_words=5))
        assert_that(profile, check, label='Profile')


def test_review_text_is_escaped_in_the_report(result):
    with open(os.path.join(result['out'], schema.REPORT_FILE), encoding='utf-8') as f:
        html = f.read()
    for text in PLAIN_XSS:
        assert render.environment().from_string('{{ t }}').render(t=text) in html
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in html
    assert '&lt;img src=x onerror=alert(1)&gt;' in html
    page = browser.parse_dom(html)   # as elements: no script, no event handler
    assert 'script' not in page.tags and not any(a.startswith('on') for _, a, _ in page.attributes)
    assert "Content-Security-Policy" in html


def test_render_helpers():
    fig, axes = render.new_figure(2, 2)
    axes[0][0].plot([0, 1], [0, 1])
    uri = render.figure_to_data_uri(fig)
    assert base64.b64decode(uri.split(',', 1)[1]).startswith(b'\x89PNG')
    html = render.environment().from_string('<img src="{{ u | data_uri }}">{{ t }}').render(
        u=uri, t='<b>&"')
    assert html.endswith('&lt;b&gt;&amp;&#34;')
    with pytest.raises(ValueError):
        render.environment().from_string('{{ u | data_uri }}').render(u='javascript:alert(1)')


    # ...and with the CSP kept, the policy alone stops them (defence in depth).


def test_too_many_rejects_fail_after_writing_the_report(data, tmp_path, capsys):
    path = write_csv(str(tmp_path / 'mostly_bad.csv'), [('A fine film', 'positive')] + BAD_ROWS)
    out = str(tmp_path / 'explore')
    assert cli.main(['explore', '--input', path, '--output', out]) == cli.EXIT_REJECTS
    assert 'exceeds --max-reject-fraction' in capsys.readouterr().err
    failed, = glob.glob(out + '.failed-*')  # beside the output, which it never replaces
    assert read_json(os.path.join(failed, schema.MANIFEST_FILE))['status'] == 'failed'
    assert os.path.getsize(os.path.join(failed, schema.REPORT_FILE)) > 0
    assert not os.path.exists(out)


@pytest.mark.parametrize('argv, message', [
    (['explore', '--input', 'x.csv'], 'required: --output'),
    (['explore', '--input', 'x.csv', '--output', 'o', '--top-words', '0'], 'not a positive'),
    (['explore', '--input', 'x.csv', '--output', 'o', '--topwords', '5'], 'unrecognized'),
])
def test_user_mistakes_give_one_clear_line(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == cli.EXIT_USAGE and message in capsys.readouterr().err
