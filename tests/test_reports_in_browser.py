"""Every HTML page the jobs write, opened in headless Chromium: the sections are there, the
charts are embedded, and review text never runs as script (escaping and the page's CSP)."""

import json
import os

import pytest

from analysis import render
from analysis.run_index import render_index
from analysis.score_report import render_score_report
from pipeline import cli
from pipeline.jobs.run_folder import summary
from tests.support import browser
from tests.support.datasets import review_rows, write_csv
from tests.support.read import read_json
from transforms import schema

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# Payloads that change the page if they ever run: the title, or an element's id.
SCRIPT = "<script>document.title='XSS-RAN';document.body.id='xss-ran'</script> awful"
IMG = """<img src=x onerror="this.id='xss-ran';document.title='XSS-RAN'"> great"""
HOSTILE = 'Awful. <script>document.title="pwned"</script> <img src=x onerror="alert(1)"> boring'


@pytest.fixture(scope='module')
def result(tmp_path_factory):
    """An explore report of reviews that carry the payloads."""
    folder = tmp_path_factory.mktemp('explore-browser')
    rows = review_rows(60) + [(SCRIPT, 'negative'), (IMG, 'positive')] * 2
    data = write_csv(str(folder / 'reviews.csv'), rows)
    out = str(folder / 'explore')
    assert cli.main(['explore', '--input', data, '--output', out]) == 0
    return {'out': out}


@pytest.fixture(scope='module')
def scored(trained, tmp_path_factory):
    folder = tmp_path_factory.mktemp('score-browser')
    data = write_csv(str(folder / 'reviews.csv'), review_rows(40) + [(HOSTILE, 'negative')])
    out = str(folder / 'out')
    assert cli.main(['score', '--input', data, '--model', trained['model'], '--output', out,
                     '--top-k', '3']) == 0
    return out


def _injected(html, keep_csp):
    """The report with its escaped payloads put back raw: what autoescape=False would give."""
    for raw in (SCRIPT, IMG):
        html = html.replace(str(render.environment().from_string('{{ t }}').render(t=raw)), raw)
    if not keep_csp:
        start = html.index('<meta http-equiv="Content-Security-Policy"')
        html = html[:start] + html[html.index('>', start) + 1:]
    return html


def _script_ran(dom):
    return dom.title != 'Data exploration report' or 'xss-ran' in dom.ids


def test_report_in_headless_chromium(result, tmp_path):
    browser.chromium_or_skip()
    report = os.path.join(result['out'], schema.REPORT_FILE)
    dom = browser.parse_dom(browser.dump_dom(report))
    assert {'counts', 'duplicates', 'lengths', 'truncation', 'words', 'log-odds', 'coverage',
            'examples', 'inputs', 'report-end'} <= dom.ids
    charts = [v for tag, name, v in dom.attributes if tag == 'img' and name == 'src']
    assert len(charts) == 5 and all(v.startswith('data:image/png;base64,') for v in charts)
    assert not _script_ran(dom)
    png = browser.screenshot(report, str(tmp_path / 'report.png'))
    with open(png, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'

    # The check can fail: the same page with the payloads unescaped and no CSP runs them...
    with open(report, encoding='utf-8') as f:
        html = f.read()
    for keep_csp, ran in ((False, True), (True, False)):
        page = tmp_path / f'unescaped-csp-{keep_csp}.html'
        page.write_text(_injected(html, keep_csp), encoding='utf-8')
        assert _script_ran(browser.parse_dom(browser.dump_dom(str(page)))) is ran


def test_report_in_a_real_browser_shows_sections_and_runs_no_script(scored, tmp_path):
    browser.chromium_or_skip()
    m = read_json(os.path.join(scored, schema.METRICS_FILE))
    manifest = read_json(os.path.join(scored, schema.MANIFEST_FILE))
    hostile = {'id': 'evil.csv:1', 'probability': 0.97, 'predicted': 'positive',
               'label': 'negative', 'review': HOSTILE,
               'tokens': [{'text': HOSTILE, 'weight': 0.2}]}
    plain = dict(hostile, id='evil.csv:2', tokens=None)
    page = tmp_path / 'report.html'
    page.write_text(render_score_report(m, {'false_positives': [hostile, plain],
                                            'false_negatives': []}, manifest), encoding='utf-8')
    dom = browser.parse_dom(browser.dump_dom(str(page)))
    assert {'metrics', 'charts', 'errors', 'false_positives', 'false_negatives',
            'classification-report', 'chart-roc', 'chart-confusion_matrix'} <= dom.ids
    assert dom.title.startswith('Scoring report') and 'pwned' not in dom.title
    assert 'script' not in dom.tags and not dom.has_attribute('onerror')
    assert dom.tags['img'] == len([i for i in dom.ids if i.startswith('chart-')])
    shot = browser.screenshot(str(page), str(tmp_path / 'report.png'))
    assert os.path.getsize(shot) > 20000


def test_index_opens_in_a_browser(tmp_path):
    browser.chromium_or_skip()
    out = tmp_path / 'run'
    (out / 'score' / 'eval').mkdir(parents=True)
    (out / 'score' / 'eval' / 'metrics.json').write_text(json.dumps(
        {'scored': 10, 'accuracy': 0.9, 'roc_auc': 0.95, 'positive_rate': 0.5}))
    (out / 'score' / 'eval' / 'manifest.json').write_text(json.dumps(
        {'inputs': [{'path': '<img src=x onerror=alert(1)>.csv'}]}))
    (out / 'score' / 'eval' / 'report.html').write_text('<p>report</p>')
    manifest = {'status': 'failed', 'created': 'now', 'wall_time_s': 3.0, 'steps': [
        {'step': 'score eval', 'command': 'imdb-sentiment score ...', 'exit_code': 3,
         'wall_time_s': 1.0}]}
    page = out / 'index.html'
    page.write_text(render_index(manifest, summary(str(out))), encoding='utf-8')
    html = browser.dump_dom(str(page))
    dom = browser.parse_dom(html)
    assert {'reports', 'scores', 'steps'} <= dom.ids
    assert 'Scoring: eval' in html and '0.9000' in html and 'failed' in html
    assert '&lt;img src=x onerror=alert(1)&gt;.csv' in html  # shown as text, not an element
    assert dom.tags.get('img', 0) == 0 and not dom.has_attribute('onerror')
