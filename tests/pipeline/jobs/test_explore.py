"""The explore job: statistics against pandas, reconciliation, and escaping of user text (the
report in headless Chromium: tests/test_reports_in_browser.py)."""

import glob
import os

import pandas as pd
import pytest
import tensorflow as tf

from analysis import explore_stats as es
from analysis import render
from pipeline import cli
from tests.support import browser
from tests.support.datasets import review_rows, write_csv
from tests.support.read import read_json, read_jsonl
from transforms import schema
from transforms.beam.split import normalized_text
from transforms.tft.cleaning import CleaningConfig, tokenize

pytestmark = pytest.mark.e2e


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
