"""Whole jobs on the hostile corpus and against a user's own files: every review whole,
every record accounted for, nothing of the user's ever an output."""

import csv
import glob
import json
import os
import shutil

import pytest

from pipeline import cli
from tests.support import hostile
from tests.support.datasets import write_csv
from tests.support.hostile import snapshot
from tests.support.read import read_json, read_jsonl
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
    # The manifest lists what was read: the file as named, never its look-alike; and what an
    # aclImdb folder held that is not a review.
    inputs = {os.path.basename(i['path']): i for i in _manifest(out)['inputs']}
    bracketed = corpus['bracket[1].csv']
    assert [(f['path'], f['rows']) for f in inputs['bracket[1].csv']['read']] == [
        (bracketed['path'], 1)]
    assert inputs['bracket[1].csv']['read'][0]['bytes'] == os.path.getsize(bracketed['path'])
    assert sorted(s['reason'] for s in inputs['acl[1]']['skipped']) == [
        'a broken link', 'a folder', 'not a .txt file']


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
    from pipeline import model_lookup
    assert model_lookup.resolve_model(str(versions)) == str(good)


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


# --- A failed rerun never replaces a good output -------------------------------------------

def test_a_rerun_over_the_reject_limit_keeps_the_good_output_and_says_where_it_went(
        tmp_path, capsys):
    good = write_csv(str(tmp_path / 'good.csv'), [('a fine film', 'positive'),
                                                  ('a dull film', 'negative')] * 5)
    bad = write_csv(str(tmp_path / 'bad.csv'), [('a fine film', 'positive'), ('', 'negative'),
                                                ('x', 'brilliant')])
    out = tmp_path / 'explore'
    assert cli.main(['explore', '--input', good, '--output', str(out)]) == 0
    before = snapshot(out)
    assert cli.main(['explore', '--input', bad, '--output', str(out)]) == 3
    err = capsys.readouterr().err
    failed = glob.glob(str(out) + '.failed-*')
    assert snapshot(out) == before and len(failed) == 1
    assert 'Nothing was replaced' in err and failed[0] in err and 'Traceback' not in err
    assert _manifest(failed[0])['status'] == 'failed'
    assert len(read_jsonl(os.path.join(failed[0], schema.REJECTED_DIR, '*.jsonl'))) == 2


def test_a_nightly_rerun_over_the_reject_limit_keeps_the_night(trained, tmp_path, capsys):
    root = tmp_path / 'nightly'
    good = write_csv(str(tmp_path / 'good.csv'), [('a fine film', 'positive')] * 6)
    bad = write_csv(str(tmp_path / 'bad.csv'), [('', 'positive'), ('fine', 'negative')])
    night = ['--model', trained['model'], '--output', str(root), '--date', '2026-11-24',
             '--no-explain']
    assert cli.main(['score', '--input', good, *night]) == 0
    before = snapshot(root / 'dt=2026-11-24')
    assert cli.main(['score', '--input', bad, *night]) == 3
    assert snapshot(root / 'dt=2026-11-24') == before
    assert len(glob.glob(str(root / 'dt=2026-11-24.failed-*'))) == 1
    capsys.readouterr()


def test_blank_lines_in_a_nights_file_are_no_records(trained, tmp_path):
    """50 reviews with blank and whitespace-only lines between them and at the end: 50
    records, none rejected, the ids their record numbers; a blank line inside quotes stays
    in its review."""
    rows = [(f'a {"fine" if i % 2 else "dull"} film, number {i}', 'positive') for i in range(49)]
    path = write_csv(str(tmp_path / 'night.csv'), [*rows, ('two\n\nparagraphs', 'negative')])
    with open(path, 'rb') as f:
        lines = f.read().split(b'\n')
    lines[10:10] = [b'', b'  \t\r']
    with open(path, 'wb') as f:
        f.write(b'\n'.join(lines) + b'\n\n \n')
    out = tmp_path / 'nightly'
    assert cli.main(['score', '--input', path, '--model', trained['model'], '--output',
                     str(out), '--date', '2026-11-24', '--no-explain']) == 0
    night = out / 'dt=2026-11-24'
    counts = _manifest(night)['counts']
    assert (counts['read'], counts['rejected'], counts['predicted']) == (50, 0, 50)
    predictions = read_jsonl(night / schema.PREDICTIONS_DIR / '*.jsonl')
    assert sorted(int(r['id'].split(':')[1]) for r in predictions) == list(range(1, 51))


# --- Outputs own their kind, with real runs ------------------------------------------------

def test_an_ad_hoc_run_never_deletes_nightly_partitions(trained, tmp_path, capsys):
    out = str(tmp_path / 'scores')
    base = ['score', '--input', trained['csv'], '--model', trained['model'], '--output', out,
            '--no-explain']
    assert cli.main(base) == 0
    assert cli.main([*base, '--date', '2026-11-24']) == 2  # an ad-hoc output is not a root
    assert 'without --date' in capsys.readouterr().err
    root = str(tmp_path / 'nightly')
    nightly = ['score', '--input', trained['csv'], '--model', trained['model'], '--output',
               root, '--no-explain']
    assert cli.main([*nightly, '--date', '2026-11-24']) == 0
    night = snapshot(root)
    assert cli.main(nightly) == 2  # an undated run would replace every partition
    assert 'root of nightly runs' in capsys.readouterr().err and snapshot(root) == night


# --- Model versions verified, not trusted ---------------------------------------------------

def test_model_versions_are_verified_against_their_manifest(trained, tmp_path, capsys):
    from pipeline import model_lookup
    versions = tmp_path / 'versions'
    good = versions / 'v1'
    shutil.copytree(trained['model'], good)
    listed = _manifest(good)[schema.EXPORT_FILES_KEY]
    data_file = next(r for r in listed if r.startswith('variables/variables.data'))

    def newer(name, damage):
        folder = versions / name
        shutil.copytree(trained['model'], folder)
        manifest = _manifest(folder)
        manifest['created'] = f'2999-01-0{len(os.listdir(versions))}T00:00:00+00:00'
        (folder / schema.MANIFEST_FILE).write_text(json.dumps(manifest))
        damage(folder)
        return str(folder)

    def truncate(folder):
        path = folder / data_file
        path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])

    def flip(folder):  # same size, other bytes: only the hash can tell
        path = folder / data_file
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))

    damaged = [newer('v2', truncate), newer('v3', flip),
               newer('v4', lambda f: (f / schema.MANIFEST_FILE).write_text('[1, 2]'))]
    assert model_lookup.resolve_model(str(versions)) == str(good)  # the newest that verifies
    for path in damaged:
        code = cli.main(['score', '--input', trained['csv'], '--model', path,
                         '--output', str(tmp_path / 'o')])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert 'Traceback' not in err and 'AttributeError' not in err


# --- Nothing to train on ---------------------------------------------------------------------

def test_preprocess_with_nothing_to_train_on_ends_in_one_line(tmp_path, capsys):
    unlabelled = write_csv(str(tmp_path / 'u.csv'), [('a film',)], header=('review',))
    assert cli.main(['preprocess', '--input', unlabelled, '--output', str(tmp_path / 'a')]) == 2
    err = capsys.readouterr().err
    assert 'no --input has labels' in err and len(err.strip().splitlines()) == 1
    assert not glob.glob(str(tmp_path / 'a*'))
    for name, rows in (('header-only', []), ('all-rejected', [('', 'positive'),
                                                               ('a film', 'brilliant')])):
        data = write_csv(str(tmp_path / f'{name}.csv'), rows)
        out = str(tmp_path / name)
        assert cli.main(['preprocess', '--input', data, '--output', out]) == 3
        err = capsys.readouterr().err
        assert 'no review is left to train on' in err and 'Traceback' not in err, err
        assert len(err.strip().splitlines()) == 1, err
        failed = glob.glob(out + '.failed-*')
        assert len(failed) == 1 and not os.path.exists(out)
        manifest = _manifest(failed[0])
        assert manifest['status'] == 'failed' and manifest['counts']['read'] == len(rows)
        dead = read_jsonl(os.path.join(failed[0], schema.REJECTED_DIR, '*.jsonl'))
        assert {r['reason'] for r in dead} == ({'empty_review', 'unknown_label'} if rows
                                               else set())


# --- Tracebacks and unclear ends -------------------------------------------------------------

def test_train_on_a_damaged_preprocess_output_is_a_usage_error(trained, tmp_path, capsys):
    for damage in ('truncate', 'vocabulary'):
        data = tmp_path / damage
        shutil.copytree(trained['preprocess'], data)
        if damage == 'truncate':
            record = sorted(glob.glob(str(data / f'train-*{schema.TFRECORD_SUFFIX}')))[0]
            with open(record, 'r+b') as f:
                f.truncate(os.path.getsize(record) // 2)
        else:
            for asset in glob.glob(str(data / 'transform_fn' / 'assets' / '*')):
                os.remove(asset)
        code = cli.main(['train', '--data', str(data), '--output', str(tmp_path / f'm-{damage}')])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and 'Traceback' not in err, err
        assert 'run preprocess again' in err


def test_predict_into_a_closed_pipe_ends_quietly(trained):
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen(
        [sys.executable, '-m', 'pipeline.cli', 'predict', '--model', trained['model'], '-'],
        cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(('a fine film\n' * 2000).encode())
    proc.stdin.close()
    first = proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    err = proc.stderr.read().decode()
    assert first.startswith(b'positive') or first.startswith(b'negative')
    assert proc.wait(timeout=300) == 141 and 'Traceback' not in err and 'BrokenPipe' not in err


def test_an_own_earlier_output_is_replaced_and_leftovers_of_killed_runs_removed(tmp_path):
    data = write_csv(str(tmp_path / 'in.csv'), [('good film', 'positive'), ('bad', 'negative')])
    out = str(tmp_path / 'explore')
    leftover = out + '.partial-0123abcd'
    os.makedirs(os.path.join(leftover, 'half'))
    assert cli.main(['explore', '--input', data, '--output', out]) == 0
    first = _manifest(out)['created']
    assert cli.main(['explore', '--input', data, '--output', out]) == 0
    assert _manifest(out)['job'] == 'explore' and _manifest(out)['created'] >= first
    assert not os.path.exists(leftover)
    assert sorted(os.listdir(tmp_path)) == ['explore', 'in.csv']
