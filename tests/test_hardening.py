"""No user data lost: hostile inputs through every job, outputs that are not the job's own,
locks, signals, broken models, and text that must round-trip whatever it holds."""

import csv
import glob
import gzip
import io
import json
import os
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import cli
from tests import hostile
from tests.fixtures import write_csv
from transforms import features
from transforms.inputs import lines
from transforms.reading import csv_records, record_from_csv
from transforms.sinks import to_json
from transforms.outputs import read_json_lines

COLUMNS = ('review', 'sentiment')


def _rows(pattern):
    return [r for path in sorted(glob.glob(pattern)) for r in read_json_lines(path)]


def _records(data: bytes, columns=COLUMNS):
    """What the reader makes of a CSV file's bytes (after its header)."""
    it = lines(io.BytesIO(data))
    next(it)
    return [record_from_csv(r, columns) for r in csv_records(it)]


# --- Reading, without a pipeline --------------------------------------------------------

def test_quoted_newlines_are_one_record_and_ids_stay_record_numbers():
    rows = [('first', 'positive'), ('a review\nover\r\nthree lines', 'negative'),
            ('Regards.<br /><br />",positive\nmore of it', 'positive'), ('last', 'negative')]
    out = io.StringIO(newline='')
    csv.writer(out).writerows([COLUMNS, *rows])
    records = _records(out.getvalue().encode())
    assert [(r['review'], r['label']) for r in records] == rows
    assert not any(r.get(features.PARSE_ERROR_KEY) for r in records)


def test_an_unterminated_quote_takes_its_continuation_lines_into_one_dead_letter():
    data = (b'review,sentiment\nfine,positive\n"never closed,positive\n'
            b'looks like a row,negative\nso does this,positive\n')
    records = _records(data)
    assert [r.get('review') for r in records] == ['fine', None]
    assert records[1][features.PARSE_ERROR_KEY] == features.REASON_MALFORMED
    assert 'looks like a row' in records[1][features.RAW_KEY]


def test_undecodable_bytes_are_kept_exactly_in_the_dead_letter():
    import base64
    (record,) = _records(b'review,sentiment\ncaf\xe9,positive\n')
    assert record[features.PARSE_ERROR_KEY] == features.REASON_UNDECODABLE
    assert base64.b64decode(record[features.RAW_BASE64_KEY]) == b'caf\xe9,positive'


# Any text but lone surrogates, which a UTF-8 file cannot hold (such bytes are undecodable).
_TEXT = st.text(st.characters(blacklist_categories=('Cs',)), min_size=1, max_size=200)
_ODD = st.sampled_from(['\n', '\r', '\r\n', '\x85', '\u2028', '\u2029', '\x00', '"', ',', '\t'])
_REVIEW = st.lists(st.one_of(_TEXT, _ODD), min_size=1, max_size=8).map(''.join)


@settings(max_examples=200, deadline=None)
@given(st.lists(_REVIEW, min_size=1, max_size=5))
def test_any_review_text_round_trips_through_the_csv_reader(reviews):
    out = io.StringIO(newline='')
    csv.writer(out).writerows([COLUMNS, *[(t, 'positive') for t in reviews]])
    records = _records(out.getvalue().encode('utf-8'))
    assert [r.get('review') for r in records] == reviews


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=100), min_size=1, max_size=5))
def test_any_text_round_trips_through_json_lines(tmp_path_factory, texts):
    """Lone surrogates included: the line falls back to ASCII escapes."""
    path = str(tmp_path_factory.mktemp('jsonl') / 'rows.jsonl')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(''.join(to_json({'review': t}) + '\n' for t in texts))
    assert [r['review'] for r in read_json_lines(path)] == texts


# --- Every job on the hostile corpus ------------------------------------------------------

@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    return hostile.write_corpus(str(tmp_path_factory.mktemp('hostile')))


def _inputs(corpus):
    return [f for p in hostile.paths(corpus) for f in ('--input', p)]


def _check_dead_letters(out, rejected, prefix='rejected-*.jsonl'):
    rows = _rows(os.path.join(out, features.REJECTED_DIR, prefix))
    assert {r['id']: r['reason'] for r in rows} == rejected
    assert all(r[features.SOURCE_KEY] and r[features.RAW_KEY] is not None for r in rows)


def _manifest(out):
    with open(os.path.join(out, features.MANIFEST_FILE), encoding='utf-8') as f:
        return json.load(f)


@pytest.mark.e2e
def test_explore_reconciles_on_the_hostile_corpus(corpus, tmp_path):
    out = str(tmp_path / 'explore')
    assert cli.main(['explore', *_inputs(corpus), '--output', out,
                     '--max-review-chars', '200000', '--max-reject-fraction', '0.5']) == 0
    accepted, rejected = hostile.expected(corpus, require_label=False, max_review_chars=200000)
    c = _manifest(out)['counts']
    assert (c['read'], c['accepted'], c['rejected']) == (
        len(accepted) + len(rejected), len(accepted), len(rejected))
    _check_dead_letters(out, rejected)


@pytest.mark.e2e
def test_preprocess_keeps_every_review_whole_on_the_hostile_corpus(corpus, tmp_path):
    out = str(tmp_path / 'preprocess')
    # The default length limit: the 154,000-character review is review_too_long.
    assert cli.main(['preprocess', *_inputs(corpus), '--output', out, '--max-tokens', '16',
                     '--ngram-max', '0', '--eval-fraction', '0.5',
                     '--max-reject-fraction', '0.5']) == 0
    accepted, rejected = hostile.expected(corpus, require_label=True,
                                          max_review_chars=features.DEFAULT_MAX_REVIEW_CHARS)
    c = _manifest(out)['counts']
    assert c['read'] == c['accepted'] + c['rejected'] == len(accepted) + len(rejected)
    assert c['train'] + c['eval'] == len(accepted)
    _check_dead_letters(out, rejected)
    # The eval split's raw reviews, read back with the csv module, are the originals.
    evaluated = {}
    for path in glob.glob(os.path.join(out, features.EVAL_REVIEWS_DIR, '*.csv')):
        with open(path, newline='', encoding='utf-8') as f:
            evaluated.update((r['id'], r['review']) for r in csv.DictReader(f))
    assert evaluated and all(accepted[i] == text for i, text in evaluated.items())


@pytest.mark.e2e
def test_score_keeps_every_review_whole_on_the_hostile_corpus(corpus, trained, tmp_path):
    out = str(tmp_path / 'score')
    # Every error listed (top-k above the count), the review texts among them.
    assert cli.main(['score', *_inputs(corpus), '--model', trained['model'], '--output', out,
                     '--max-review-chars', '200000', '--top-k', '100',
                     '--max-reject-fraction', '0.5']) == 0
    accepted, rejected = hostile.expected(corpus, require_label=False, max_review_chars=200000)
    predictions = _rows(os.path.join(out, features.PREDICTIONS_DIR, '*.jsonl'))
    assert {p['id']: p['review'] for p in predictions} == accepted
    _check_dead_letters(out, rejected)
    c = _manifest(out)['counts']
    assert c['read'] == c['predicted'] + c['rejected'] == len(accepted) + len(rejected)
    with open(os.path.join(out, features.REPORT_FILE), encoding='utf-8') as f:
        html = f.read()
    assert '<script>alert(1)' not in html


def test_a_header_naming_a_column_twice_is_a_usage_error(tmp_path, capsys):
    path = str(tmp_path / 'twice.csv')
    with open(path, 'w') as f:
        f.write('review,review\nfirst text,second text\n')
    assert cli.main(['explore', '--input', path, '--output', str(tmp_path / 'o')]) == 2
    err = capsys.readouterr().err
    assert 'more than once' in err and len(err.strip().splitlines()) == 1
    assert not os.path.exists(tmp_path / 'o')


def test_a_gz_file_that_is_not_gzip_is_a_usage_error(tmp_path, capsys):
    path = str(tmp_path / 'fake.csv.gz')
    with open(path, 'w') as f:
        f.write('review,sentiment\nplain text,positive\n')
    assert cli.main(['explore', '--input', path, '--output', str(tmp_path / 'o')]) == 2
    assert 'cannot be read' in capsys.readouterr().err


# --- Outputs that are not the job's own ----------------------------------------------------

@pytest.fixture()
def user_folder(tmp_path):
    """A user's folder: their reviews and their notes."""
    folder = tmp_path / 'v'
    folder.mkdir()
    write_csv(str(folder / 'base.csv'), [('good film', 'positive'), ('bad film', 'negative')])
    (folder / 'notes.txt').write_text('my notes')
    return folder


def _snapshot(folder):
    return {p: open(p, 'rb').read() for p in glob.glob(os.path.join(folder, '**'), recursive=True)
            if os.path.isfile(p)}


@pytest.mark.parametrize('output', ['{v}', '{v}/base.csv', '{v}/base.csv/out', '{v}/..', '.'])
def test_output_that_overlaps_an_input_is_refused_before_any_work(user_folder, output,
                                                                  capsys, monkeypatch):
    monkeypatch.chdir(user_folder)
    before = _snapshot(user_folder)
    code = cli.main(['explore', '--input', str(user_folder / 'base.csv'),
                     '--output', output.format(v=user_folder)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert _snapshot(user_folder) == before


def test_a_folder_of_user_files_is_never_replaced(user_folder, tmp_path, capsys):
    data = write_csv(str(tmp_path / 'in.csv'), [('good film', 'positive')])
    before = _snapshot(user_folder)
    assert cli.main(['explore', '--input', data, '--output', str(user_folder)]) == 2
    assert 'files of yours' in capsys.readouterr().err
    assert _snapshot(user_folder) == before


def test_the_model_and_the_data_are_never_an_output(trained, tmp_path, capsys):
    model_files = _snapshot(trained['model'])
    assert cli.main(['score', '--input', trained['csv'], '--model', trained['model'],
                     '--output', trained['model']]) == 2
    assert cli.main(['score', '--input', trained['csv'], '--model', trained['model'],
                     '--output', os.path.join(trained['model'], 'scores')]) == 2
    assert _snapshot(trained['model']) == model_files
    data = str(tmp_path / 'preprocess')
    shutil.copytree(trained['preprocess'], data) if os.path.isdir(trained['preprocess']) else \
        os.makedirs(data)
    with open(os.path.join(data, features.MANIFEST_FILE), 'w') as f:
        json.dump({'job': 'preprocess', 'status': 'ok'}, f)
    data_files = _snapshot(data)
    assert cli.main(['train', '--data', data, '--output', data]) == 2
    assert _snapshot(data) == data_files
    assert 'overlaps' in capsys.readouterr().err


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


def test_another_jobs_output_is_not_replaced(tmp_path, capsys):
    data = write_csv(str(tmp_path / 'in.csv'), [('good film', 'positive')])
    out = tmp_path / 'out'
    out.mkdir()
    (out / features.MANIFEST_FILE).write_text(json.dumps({'job': 'score'}))
    assert cli.main(['explore', '--input', data, '--output', str(out)]) == 2
    assert 'imdb-sentiment score' in capsys.readouterr().err


def test_an_output_under_a_file_is_a_usage_error(tmp_path, capsys):
    data = write_csv(str(tmp_path / 'in.csv'), [('good film', 'positive')])
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    assert cli.main(['explore', '--input', data, '--output', str(blocker / 'out')]) == 2
    assert 'not a folder' in capsys.readouterr().err


# --- Broken models and inputs of the other commands -----------------------------------------

@pytest.mark.parametrize('damage', ['truncate', 'no_variables'])
def test_a_damaged_model_is_a_usage_error_and_skipped_among_versions(trained, tmp_path, capsys,
                                                                     damage):
    versions = tmp_path / 'versions'
    good, bad = versions / 'v1', versions / 'v2'
    shutil.copytree(trained['model'], good)
    shutil.copytree(trained['model'], bad)
    with open(bad / features.MANIFEST_FILE) as f:
        manifest = json.load(f)
    manifest['created'] = '2999-01-01T00:00:00+00:00'  # the newest, if it counted
    (bad / features.MANIFEST_FILE).write_text(json.dumps(manifest))
    if damage == 'truncate':
        pb = bad / features.SAVED_MODEL_FILE
        pb.write_bytes(pb.read_bytes()[:100])
    else:
        shutil.rmtree(bad / features.VARIABLES_DIR)
    code = cli.main(['score', '--input', trained['csv'], '--model', str(bad),
                     '--output', str(tmp_path / 'o')])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and 'Traceback' not in err
    from pipeline import nightly
    assert nightly.resolve_model(str(versions)) == str(good)


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


def test_train_on_an_explore_output_is_a_usage_error(tmp_path, capsys):
    data = tmp_path / 'explore'
    data.mkdir()
    (data / features.MANIFEST_FILE).write_text(json.dumps({'job': 'explore', 'status': 'ok'}))
    assert cli.main(['train', '--data', str(data), '--output', str(tmp_path / 'm')]) == 2
    err = capsys.readouterr().err
    assert 'imdb-sentiment explore' in err and 'Traceback' not in err


def test_gzip_input_gives_the_same_records_as_the_plain_file(tmp_path):
    rows = [('a review\nwith a line break', 'positive'), ('second', 'negative')]
    plain = write_csv(str(tmp_path / 'r.csv'), rows)
    with open(plain, 'rb') as f, open(plain + '.gz', 'wb') as g:
        g.write(gzip.compress(f.read()))
    from apache_beam.io.filesystems import FileSystems
    got = []
    for path in (plain, plain + '.gz'):
        with FileSystems.open(path) as f:
            it = lines(f)
            next(it)
            got.append([record_from_csv(r, COLUMNS)['review'] for r in csv_records(it)])
    assert got[0] == got[1] == [r[0] for r in rows]
