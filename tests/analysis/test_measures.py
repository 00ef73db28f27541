"""The table of measures is the one list: a row added to it reaches every page and file that
shows measures (the score report, the manifest, drift, the history, the gate, the run index)
with no other edit, and every row is computed."""

import argparse
import json
import os

import numpy as np
import pytest

from analysis import drift, gate, measures, metrics
from analysis.gate_report import render_gate_report
from analysis.measures import RATE, Measure
from analysis.run_index import render_index
from analysis.score_summary import ScoreSummaryFn
from pipeline import history
from pipeline.jobs import run_folder, score_finish
from pipeline.nightly import PARTITION_PREFIX
from transforms import jsonio, schema

# A measure no page knows by name: macro F1, read from where metrics.json already holds it.
MACRO_F1 = Measure('macro_f1', 'macro F1', RATE, True, headline=True,
                   path=('classification_report', 'macro avg', 'f1'), needs_labels=True,
                   gate=True, nightly=True, drift_alert=0.05, indexed=True)


@pytest.fixture
def new_row(monkeypatch):
    monkeypatch.setattr(measures, 'MEASURES', (*measures.MEASURES, MACRO_F1))
    return MACRO_F1


def _summary(seed: int, noise: float = 0.2, labelled: bool = True):
    """The score job's summary of 300 made-up scored reviews; more noise, more errors."""
    rng = np.random.default_rng(seed)
    fn = ScoreSummaryFn()
    acc = fn.create_accumulator()
    for _ in range(300):
        label = schema.POSITIVE if rng.random() < 0.5 else schema.NEGATIVE
        centre = 0.7 if label == schema.POSITIVE else 0.3
        p = float(np.clip(rng.normal(centre, noise), 0, 1))
        row = {schema.PROBABILITY_KEY: p, schema.REVIEW_KEY: 'not bad at all',
               schema.PREDICTED_KEY: schema.POSITIVE if p > 0.5 else schema.NEGATIVE}
        if labelled:
            row[schema.LABEL_KEY] = label
        acc = fn.add_input(acc, row)
    return fn.extract_output(acc)


def _night(root, date: str, summary, previous=None):
    """A published night of a nightly root, as the score job's finish writes it."""
    part = os.path.join(root, f'{PARTITION_PREFIX}{date}')
    os.makedirs(part)
    manifest = {'counts': {'read': 300, 'accepted': 300, 'rejected': 0}, 'status': 'ok',
                'created': date, 'inputs': [{'path': f'{date}.csv'}]}
    stats = {'summary': [summary], 'coverage': [{'tokens': 100, 'known_tokens': 90}]}
    args = argparse.Namespace(model=os.path.join(root, 'no-model'), output=root, date=date)
    score_finish.finish(part, stats, manifest, args, previous=previous)
    jsonio.write_json(os.path.join(part, schema.MANIFEST_FILE), manifest)
    return part, manifest


def _read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def test_every_measure_is_computed_and_labels_decide_which():
    labelled = metrics.summarize(_summary(1), {'tokens': 10, 'known_tokens': 9})
    unlabelled = metrics.summarize(_summary(1, labelled=False), {'tokens': 10, 'known_tokens': 9})
    assert len({m.key for m in measures.MEASURES}) == len(measures.MEASURES)
    for m in measures.MEASURES:
        assert m.value(labelled) is not None, m.key
        assert (m.value(unlabelled) is None) == m.needs_labels, m.key
        assert measures.named(m.key) is m
    with pytest.raises(KeyError):
        measures.named('f1')


def test_values_are_written_one_way_and_alerts_follow_the_direction(monkeypatch):
    assert measures.ACCURACY.format(0.91234) == '0.9123'
    assert measures.ACCURACY.format(-0.01, signed=True) == '-0.0100'
    assert measures.SCORED.format(25000) == '25,000' and measures.SCORED.format(0, True) == '+0'
    assert measures.ECE.format(None) == '–'
    worse = {'current': 0.8, 'previous': 0.9, 'change': 0.8 - 0.9}
    night = {'score_psi': {'value': 0.0, 'reading': 'stable'}}
    up = Measure('errors', 'error rate', RATE, False, nightly=True, drift_alert=0.05)
    either = Measure('share', 'share', RATE, None, nightly=True, drift_alert=0.05)
    monkeypatch.setattr(measures, 'MEASURES', (MACRO_F1, up, either))
    found = drift.alerts(dict(night, macro_f1=worse, errors=dict(worse, change=0.1),
                              share=dict(worse, change=-0.1)))
    quiet = drift.alerts(dict(night, macro_f1=dict(worse, change=0.1),
                              errors=dict(worse, change=-0.1), share=dict(worse, change=0.01)))
    assert found == ['macro F1 fell from 0.900 to 0.800', 'error rate rose from 0.900 to 0.800',
                     'share moved from 0.900 to 0.800']
    assert quiet == []


def test_a_new_row_reaches_the_score_report_the_manifest_drift_and_the_history(
        new_row, tmp_path):
    root = str(tmp_path / 'scores')
    first, _ = _night(root, '2026-11-20', _summary(2, noise=0.15))
    part, manifest = _night(root, '2026-11-21', _summary(3, noise=0.4), previous=first)
    result = json.loads(_read(os.path.join(part, schema.METRICS_FILE)))
    value = result['classification_report']['macro avg']['f1']
    # The score report's headline and the manifest's metrics.
    page = _read(os.path.join(part, schema.REPORT_FILE))
    assert f'<td>macro F1</td><td>{value:.4f}</td>' in page
    assert manifest['metrics']['macro_f1'] == value
    # drift.json, its alert, and the report's drift table.
    found = json.loads(_read(os.path.join(part, score_finish.DRIFT_FILE)))
    assert found['macro_f1']['current'] == value and found['macro_f1']['change'] < -0.05
    assert any(a.startswith('macro F1 fell from') for a in found['alerts'])
    table = page.split('id="drift-table"')[1].split('</table>')[0]
    assert '<td>macro F1</td>' in table and f'{found["macro_f1"]["change"]:+.4f}' in table
    # The history: every night's row, a chart and a column.
    history.write_history(root)
    nights = json.loads(_read(os.path.join(root, history.HISTORY_FILE)))['nights']
    assert [n['macro_f1'] for n in nights][-1] == value and nights[0]['macro_f1'] is not None
    index = _read(os.path.join(root, history.INDEX_FILE))
    assert 'id="chart-macro_f1"' in index and '<th>macro F1</th>' in index
    assert f'<td>{value:.4f}</td>' in index


def test_a_new_row_reaches_the_gate_and_its_report(new_row):
    candidate = metrics.summarize(_summary(4, noise=0.15))
    baseline = metrics.summarize(_summary(5, noise=0.3))
    rows = gate.side_by_side(candidate, baseline)
    mine = [r for r in rows if r['measure'] == 'macro_f1']
    assert mine and mine[0]['candidate'] == new_row.value(candidate) and mine[0]['delta'] > 0
    comparison = {'candidate': {'model': {'path': 'c', 'version': None}, 'metrics': candidate},
                  'baseline': {'model': {'path': 'b', 'version': None}, 'metrics': baseline},
                  'headline': rows, 'slices': [], 'paired_test': None}
    verdict = dict(gate.verdict(candidate, baseline, gate.Thresholds()), thresholds={})
    page = render_gate_report(comparison, verdict, {'created': 'now', 'inputs': [],
                                                    'counts': {'scored': 300, 'rejected': 0}})
    assert (f'<tr><td>macro F1</td><td>{mine[0]["candidate"]:.4f}</td>'
            f'<td>{mine[0]["baseline"]:.4f}</td><td class="better">') in page


def test_a_new_row_reaches_the_run_index(new_row, tmp_path):
    folder = tmp_path / 'run' / run_folder.SCORE_DIR / schema.TEST_PREFIX
    folder.mkdir(parents=True)
    result = metrics.summarize(_summary(6))
    jsonio.write_json(str(folder / schema.METRICS_FILE), result)
    jsonio.write_json(str(folder / schema.MANIFEST_FILE), {'inputs': [{'path': 'test.csv'}]})
    found = run_folder.summary(str(tmp_path / 'run'))
    assert found['scores'][0]['macro_f1'] == new_row.value(result)
    page = render_index({'created': 'now', 'wall_time_s': 1, 'status': 'ok', 'steps': []},
                        found)
    assert '<th>macro F1</th>' in page and f'<td>{new_row.value(result):.4f}</td>' in page
