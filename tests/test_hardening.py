"""No user data lost: hostile inputs through every job, outputs that are not the job's own,
locks, signals, broken models, and text that must round-trip whatever it holds."""

import csv
import gzip
import io
import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.read import read_json, read_jsonl
from pipeline import cli
from tests.hostile import snapshot
from tests.datasets import write_csv
from transforms import schema
from transforms.beam.inputs import lines
from transforms.beam.read import csv_records, record_from_csv
from transforms.beam.sinks import to_json
from transforms.jsonio import read_json_lines

COLUMNS = ('review', 'sentiment')


_rows = read_jsonl


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
    assert not any(r.get(schema.PARSE_ERROR_KEY) for r in records)


def test_an_unterminated_quote_takes_its_continuation_lines_into_one_dead_letter():
    data = (b'review,sentiment\nfine,positive\n"never closed,positive\n'
            b'looks like a row,negative\nso does this,positive\n')
    records = _records(data)
    assert [r.get('review') for r in records] == ['fine', None]
    assert records[1][schema.PARSE_ERROR_KEY] == schema.REASON_MALFORMED
    assert 'looks like a row' in records[1][schema.RAW_KEY]


def test_undecodable_bytes_are_kept_exactly_in_the_dead_letter():
    import base64
    (record,) = _records(b'review,sentiment\ncaf\xe9,positive\n')
    assert record[schema.PARSE_ERROR_KEY] == schema.REASON_UNDECODABLE
    assert base64.b64decode(record[schema.RAW_BASE64_KEY]) == b'caf\xe9,positive'


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


def _manifest(out):
    return read_json(os.path.join(out, schema.MANIFEST_FILE))


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

@pytest.mark.parametrize('output', ['{v}', '{v}/base.csv', '{v}/base.csv/out', '{v}/..', '.'])
def test_output_that_overlaps_an_input_is_refused_before_any_work(user_folder, output,
                                                                  capsys, monkeypatch):
    monkeypatch.chdir(user_folder)
    before = snapshot(user_folder)
    code = cli.main(['explore', '--input', str(user_folder / 'base.csv'),
                     '--output', output.format(v=user_folder)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert snapshot(user_folder) == before


def test_a_folder_of_user_files_is_never_replaced(user_folder, tmp_path, capsys):
    data = write_csv(str(tmp_path / 'in.csv'), [('good film', 'positive')])
    before = snapshot(user_folder)
    assert cli.main(['explore', '--input', data, '--output', str(user_folder)]) == 2
    assert 'files of yours' in capsys.readouterr().err
    assert snapshot(user_folder) == before


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
    (out / schema.MANIFEST_FILE).write_text(json.dumps({'job': 'score'}))
    assert cli.main(['explore', '--input', data, '--output', str(out)]) == 2
    assert 'imdb-sentiment score' in capsys.readouterr().err


def test_an_output_under_a_file_is_a_usage_error(tmp_path, capsys):
    data = write_csv(str(tmp_path / 'in.csv'), [('good film', 'positive')])
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    assert cli.main(['explore', '--input', data, '--output', str(blocker / 'out')]) == 2
    assert 'not a folder' in capsys.readouterr().err


# --- Broken models and inputs of the other commands -----------------------------------------

def test_train_on_an_explore_output_is_a_usage_error(tmp_path, capsys):
    data = tmp_path / 'explore'
    data.mkdir()
    (data / schema.MANIFEST_FILE).write_text(json.dumps({'job': 'explore', 'status': 'ok'}))
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
