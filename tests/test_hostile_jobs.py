"""Whole jobs on the hostile corpus and against a user's own files: every review whole,
every record accounted for, nothing of the user's ever an output."""

import csv
import glob
import json
import os
import shutil

import pytest

from pipeline import cli
from tests import hostile
from tests.hostile import snapshot
from tests.read import read_json, read_jsonl
from transforms import schema

pytestmark = pytest.mark.e2e


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    return hostile.write_corpus(str(tmp_path_factory.mktemp('hostile')))


def _inputs(corpus):
    return [f for p in hostile.paths(corpus) for f in ('--input', p)]


def _check_dead_letters(out, rejected, prefix='rejected-*.jsonl'):
    rows = read_jsonl(os.path.join(out, schema.REJECTED_DIR, prefix))
    assert {r['id']: r['reason'] for r in rows} == rejected
    assert all(r[schema.SOURCE_KEY] and r[schema.RAW_KEY] is not None for r in rows)


def _manifest(out):
    return read_json(os.path.join(out, schema.MANIFEST_FILE))


def test_explore_reconciles_on_the_hostile_corpus(corpus, tmp_path):
    out = str(tmp_path / 'explore')
    assert cli.main(['explore', *_inputs(corpus), '--output', out,
                     '--max-review-chars', '200000', '--max-reject-fraction', '0.5']) == 0
    accepted, rejected = hostile.expected(corpus, require_label=False, max_review_chars=200000)
    c = _manifest(out)['counts']
    assert (c['read'], c['accepted'], c['rejected']) == (
        len(accepted) + len(rejected), len(accepted), len(rejected))
    _check_dead_letters(out, rejected)


def test_preprocess_keeps_every_review_whole_on_the_hostile_corpus(corpus, tmp_path):
    out = str(tmp_path / 'preprocess')
    # The default length limit: the 154,000-character review is review_too_long.
    assert cli.main(['preprocess', *_inputs(corpus), '--output', out, '--max-tokens', '16',
                     '--ngram-max', '0', '--eval-fraction', '0.5',
                     '--max-reject-fraction', '0.5']) == 0
    accepted, rejected = hostile.expected(corpus, require_label=True,
                                          max_review_chars=schema.DEFAULT_MAX_REVIEW_CHARS)
    c = _manifest(out)['counts']
    assert c['read'] == c['accepted'] + c['rejected'] == len(accepted) + len(rejected)
    assert c['train'] + c['eval'] == len(accepted)
    _check_dead_letters(out, rejected)
    # The eval split's raw reviews, read back with the csv module, are the originals.
    evaluated = {}
    for path in glob.glob(os.path.join(out, schema.EVAL_REVIEWS_DIR, '*.csv')):
        with open(path, newline='', encoding='utf-8') as f:
            evaluated.update((r['id'], r['review']) for r in csv.DictReader(f))
    assert evaluated and all(accepted[i] == text for i, text in evaluated.items())


def test_score_keeps_every_review_whole_on_the_hostile_corpus(corpus, trained, tmp_path):
    out = str(tmp_path / 'score')
    # Every error listed (top-k above the count), the review texts among them.
    assert cli.main(['score', *_inputs(corpus), '--model', trained['model'], '--output', out,
                     '--max-review-chars', '200000', '--top-k', '100',
                     '--max-reject-fraction', '0.5']) == 0
    accepted, rejected = hostile.expected(corpus, require_label=False, max_review_chars=200000)
    predictions = read_jsonl(os.path.join(out, schema.PREDICTIONS_DIR, '*.jsonl'))
    assert {p['id']: p['review'] for p in predictions} == accepted
    _check_dead_letters(out, rejected)
    c = _manifest(out)['counts']
    assert c['read'] == c['predicted'] + c['rejected'] == len(accepted) + len(rejected)
    with open(os.path.join(out, schema.REPORT_FILE), encoding='utf-8') as f:
        html = f.read()
    assert '<script>alert(1)' not in html


def test_the_model_and_the_data_are_never_an_output(trained, tmp_path, capsys):
    model_files = snapshot(trained['model'])
    assert cli.main(['score', '--input', trained['csv'], '--model', trained['model'],
                     '--output', trained['model']]) == 2
    assert cli.main(['score', '--input', trained['csv'], '--model', trained['model'],
                     '--output', os.path.join(trained['model'], 'scores')]) == 2
    assert snapshot(trained['model']) == model_files
    data = str(tmp_path / 'preprocess')
    shutil.copytree(trained['preprocess'], data) if os.path.isdir(trained['preprocess']) else \
        os.makedirs(data)
    with open(os.path.join(data, schema.MANIFEST_FILE), 'w') as f:
        json.dump({'job': 'preprocess', 'status': 'ok'}, f)
    data_files = snapshot(data)
    assert cli.main(['train', '--data', data, '--output', data]) == 2
    assert snapshot(data) == data_files
    assert 'overlaps' in capsys.readouterr().err


@pytest.mark.parametrize('damage', ['truncate', 'no_variables'])
def test_a_damaged_model_is_a_usage_error_and_skipped_among_versions(trained, tmp_path, capsys,
                                                                     damage):
    versions = tmp_path / 'versions'
    good, bad = versions / 'v1', versions / 'v2'
    shutil.copytree(trained['model'], good)
    shutil.copytree(trained['model'], bad)
    manifest = read_json(bad / schema.MANIFEST_FILE)
    manifest['created'] = '2999-01-01T00:00:00+00:00'  # the newest, if it counted
    (bad / schema.MANIFEST_FILE).write_text(json.dumps(manifest))
    if damage == 'truncate':
        pb = bad / schema.SAVED_MODEL_FILE
        pb.write_bytes(pb.read_bytes()[:100])
    else:
        shutil.rmtree(bad / schema.VARIABLES_DIR)
    code = cli.main(['score', '--input', trained['csv'], '--model', str(bad),
                     '--output', str(tmp_path / 'o')])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and 'Traceback' not in err
    from pipeline import models
    assert models.resolve_model(str(versions)) == str(good)


def test_predict_reports_invalid_utf8_on_stdin_in_one_line(trained, tmp_path):
    import subprocess
    import sys
    proc = subprocess.run(
        [sys.executable, '-m', 'pipeline.cli', 'predict', '--model', trained['model'], '-'],
        input=b'a fine film\ncaf\xe9 latin-1\n', capture_output=True, timeout=300,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert 'line 2: not UTF-8' in err and 'Traceback' not in err
