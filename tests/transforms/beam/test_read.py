"""The CSV and aclImdb readers, as plain functions and in a real Beam pipeline, and on hostile
bytes: quoted newlines, unterminated quotes, undecodable bytes, any text, gzip."""

import csv
import glob
import gzip
import hashlib
import io
import json
import os

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import cli
from tests.support.datasets import write_aclimdb, write_csv
from transforms import schema
from transforms.beam.inputs import lines, resolve_inputs
from transforms.beam.read import ReadReviews, csv_records, parse_csv_line, record_from_csv
from transforms.errors import InputError

COLUMNS = ('review', 'sentiment')


def test_quoted_fields_with_commas_and_doubled_quotes():
    rec = parse_csv_line(b'"A ""great"", long, film",positive\r\n', COLUMNS)
    assert rec['review'] == 'A "great", long, film' and rec['label'] == 'positive'
    assert 'parse_error' not in rec


def test_unquoted_field():
    assert parse_csv_line(b'fine film,negative\n', COLUMNS)['review'] == 'fine film'


@pytest.mark.parametrize('line, reason', [
    (b'"unterminated quote,positive\n', schema.REASON_MALFORMED),
    (b'"closed" then text,positive\n', schema.REASON_MALFORMED),
    (b'three,fields,positive\n', schema.REASON_MALFORMED),
    (b'only one field\n', schema.REASON_MALFORMED),
    (b'bad \xff\xfe bytes,positive\n', schema.REASON_UNDECODABLE),
])
def test_broken_lines_carry_a_parse_error(line, reason):
    rec = parse_csv_line(line, COLUMNS)
    assert rec['parse_error'] == reason
    assert rec['raw']  # the raw line travels to the dead-letter row


def test_unlabeled_csv_has_no_label():
    rec = parse_csv_line(b'"just text, no label"\n', ('review',))
    assert rec['review'] == 'just text, no label' and rec['label'] is None


def test_resolve_inputs_reports_user_mistakes(tmp_path):
    with pytest.raises(InputError, match='not found'):
        resolve_inputs([str(tmp_path / 'missing.csv')])
    bad = tmp_path / 'bad.csv'
    bad.write_text('text,label\nx,positive\n')
    with pytest.raises(InputError, match='header'):
        resolve_inputs([str(bad)])
    root = write_aclimdb(str(tmp_path / 'aclImdb'), 'train', [('good', 'positive')])
    with pytest.raises(InputError, match='aclImdb root'):
        resolve_inputs([str(tmp_path / 'aclImdb')])
    with pytest.raises(InputError, match='same ids'):
        resolve_inputs([root, root])


def test_read_reviews_from_csv_and_aclimdb(tmp_path):
    csv_path = write_csv(str(tmp_path / 'reviews.csv'), [
        ('Loved it, "really"', 'positive'), ('Dull.', 'Negative '), ('', 'positive')])
    folder = write_aclimdb(str(tmp_path / 'aclImdb'), 'test',
                           [('Great <br />film', 'positive'), ('Boring', 'negative')])
    specs = resolve_inputs([csv_path, folder])

    def key(r):
        return r['id'], r['review'], r['label'], r.get('rating')

    with TestPipeline() as p:
        read = p | ReadReviews(specs)
        assert_that(read['records'] | beam.Map(key), equal_to([
            ('reviews.csv:1', 'Loved it, "really"', 'positive', None),
            ('reviews.csv:2', 'Dull.', 'Negative ', None),
            ('reviews.csv:3', '', 'positive', None),
            ('test/pos/0_8.txt', 'Great <br />film', 'positive', 8),
            ('test/neg/1_2.txt', 'Boring', 'negative', 2),
        ]), label='Records')
        assert_that(read['input_stats'] | beam.Map(lambda kv: (kv[0], kv[1]['files'],
                                                              kv[1]['rows'])),
                    equal_to([(csv_path, 1, 3), (folder, 2, 2)]), label='Stats')


def test_csv_digest_is_the_file_sha256(tmp_path):
    import hashlib
    path = write_csv(str(tmp_path / 'r.csv'), [('a', 'positive')])
    expected = hashlib.sha256(open(path, 'rb').read()).hexdigest()
    with TestPipeline() as p:
        read = p | ReadReviews(resolve_inputs([path]))
        assert_that(read['input_stats'] | beam.Map(lambda kv: kv[1]['sha256']),
                    equal_to([expected]))


# A file that is hard to cut: quoted newlines and quotes, CRLF, blank lines (no records),
# bytes that are not UTF-8, a field with a comma, and a quote that never closes at the end.
_HOSTILE_CSV = (b'review,sentiment\r\n'
                b'"first\nreview, on two lines",positive\r\n'
                b'plain,negative\n'
                b'\n'
                b'  \t\r\n'
                b'"a ""quoted"" word",positive\n'
                b'bad \xff byte,negative\n'
                b'"three\n\nlines",negative\n'
                b'last good,positive\n'
                b'"never closed,positive\nand more\n')


def _read_to_files(specs, chunk_records, prefix):
    """Every record (the fields a chunk could get wrong) and the stats, as JSON lines."""
    with TestPipeline() as p:
        read = p | ReadReviews(specs, chunk_records=chunk_records)
        _ = (read['records']
             | beam.Map(lambda r: json.dumps([r['id'], r['row'], r.get('review'), r.get('label'),
                                              r.get('parse_error'), r.get('detail'), r['raw']]))
             | 'WriteRecords' >> beam.io.WriteToText(prefix + '-records'))
        _ = (read['input_stats'] | beam.Map(lambda kv: json.dumps([kv[1]['rows'],
                                                                 kv[1]['sha256']]))
             | 'WriteStats' >> beam.io.WriteToText(prefix + '-stats'))
    found = {}
    for kind in ('records', 'stats'):
        rows = []
        for name in glob.glob(f'{prefix}-{kind}*'):
            with open(name, encoding='utf-8') as f:
                rows += [json.loads(line) for line in f]
        found[kind] = sorted(rows, key=lambda r: r[1] if kind == 'records' else 0)
    return found


@pytest.mark.parametrize('name', ['hostile.csv', 'hostile.csv.gz'])
def test_a_file_cut_into_chunks_reads_as_one(tmp_path, name):
    """Chunks of 1, 2 and 3 records give the very records (ids, rows, parse errors and
    their line numbers) and stats that one reader of the whole file gives."""
    path = tmp_path / name
    path.write_bytes(gzip.compress(_HOSTILE_CSV) if name.endswith('.gz') else _HOSTILE_CSV)
    specs = resolve_inputs([str(path)])
    whole = _read_to_files(specs, 1000, str(tmp_path / 'whole'))
    assert whole['stats'] == [[7, hashlib.sha256(_HOSTILE_CSV).hexdigest()]]
    assert [r[1] for r in whole['records']] == list(range(1, 8))
    assert whole['records'][0][2] == 'first\nreview, on two lines'
    assert whole['records'][2][2] == 'a "quoted" word'  # after the two blank lines
    assert whole['records'][3][4] == schema.REASON_UNDECODABLE
    assert whole['records'][4][2] == 'three\n\nlines'  # a blank line inside quotes is text
    assert whole['records'][-1][4] == schema.REASON_MALFORMED
    assert 'line 13' in whole['records'][-1][5]
    for chunk_records in (1, 2, 3):
        assert _read_to_files(specs, chunk_records, str(tmp_path / f'c{chunk_records}')) == whole


# --- Hostile bytes, without a pipeline

def _records(data: bytes, columns=COLUMNS):
    """What the reader makes of a CSV file's bytes (after its header)."""
    it = lines(io.BytesIO(data))
    next(it)
    return [record_from_csv(r, columns) for r in csv_records(it)]


def test_quoted_newlines_are_one_record_and_ids_stay_record_numbers():
    rows = [('first', 'positive'), ('a review\nover\r\nthree lines', 'negative'),
            ('Regards.<br /><br />",positive\nmore of it', 'positive'), ('last', 'negative')]
    out = io.StringIO(newline='')
    csv.writer(out).writerows([COLUMNS, *rows])
    records = _records(out.getvalue().encode())
    assert [(r['review'], r['label']) for r in records] == rows
    assert not any(r.get(schema.PARSE_ERROR_KEY) for r in records)


def test_blank_lines_between_records_are_no_records():
    """Empty or whitespace-only lines, first, between records or last, are skipped: no
    record, no dead letter, no number; the records keep their numbers and line numbers."""
    data = (b'review,sentiment\n\n   \nfirst,positive\r\n\t\r\n'
            b'"with\n\n  \nblank lines",negative\nlast,positive\n\n \n\n')
    it = lines(io.BytesIO(data))
    next(it)
    found = list(csv_records(it))
    assert [(r.line, r.num_lines) for r in found] == [(4, 1), (6, 4), (10, 1)]
    records = [record_from_csv(r, COLUMNS) for r in found]
    assert [(r['review'], r['label']) for r in records] == [
        ('first', 'positive'), ('with\n\n  \nblank lines', 'negative'), ('last', 'positive')]
    assert not any(r.get(schema.PARSE_ERROR_KEY) for r in records)
    assert _records(b'review,sentiment\n\n\n') == []


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


def test_a_path_that_exists_is_read_as_named_and_only_a_missing_one_is_a_glob(tmp_path):
    from transforms.beam.inputs import resolve_inputs
    from transforms.errors import InputError
    rows = [('a fine film', 'positive')]
    named, decoy = str(tmp_path / 'rev[1].csv'), str(tmp_path / 'rev1.csv')
    write_csv(named, rows)
    write_csv(decoy, rows)
    assert resolve_inputs([named])[0].files == (named,)
    solo = write_csv(str(tmp_path / 'solo[2].csv'), rows)  # no look-alike: was "not found"
    assert resolve_inputs([solo])[0].files == (solo,)
    assert resolve_inputs([str(tmp_path / 'rev?.csv')])[0].files == (decoy,)  # a real glob
    with pytest.raises(InputError, match='input not found'):
        resolve_inputs([str(tmp_path / 'missing.csv')])
    for folder, text in (('br[1]', 'named'), ('br1', 'decoy')):
        for label in ('pos', 'neg'):
            os.makedirs(tmp_path / folder / label)
            (tmp_path / folder / label / f'0_{8 if label == "pos" else 2}.txt').write_text(text)
    (tmp_path / 'br[1]' / 'pos' / 'x.TXT').write_text('not a review file')
    spec = resolve_inputs([str(tmp_path / 'br[1]')])[0]
    assert all('/br[1]/' in f for f in spec.files) and len(spec.files) == 2
    assert spec.skipped == ((os.path.join('pos', 'x.TXT'), 'not a .txt file'),)


# --- On gs:// (the GCS emulator)

@pytest.mark.e2e
def test_on_gs_a_chunk_is_one_ranged_download_and_reads_as_on_disk(tmp_path):
    """A CSV on gs:// cut into chunks gives the records and stats the local file gives, and
    each chunk costs one download of the input (not a metadata request and a download of
    Beam's 16 MiB buffer): the plan's own read, then one a chunk."""
    import re
    import urllib.parse
    from tests.support import gcs_emulator
    local = tmp_path / 'hostile.csv'
    local.write_bytes(_HOSTILE_CSV)
    whole = _read_to_files(resolve_inputs([str(local)]), 1000, str(tmp_path / 'whole'))
    (tmp_path / 'gcs').mkdir()
    with gcs_emulator.running(str(tmp_path / 'gcs'), log_requests=True) as store:
        store.create_bucket('read-test')
        path = store.upload('read-test', 'in/hostile.csv', _HOSTILE_CSV)
        specs = resolve_inputs([path])
        for chunk_records, chunks in ((2, 4), (3, 3)):
            start = store.log_size()
            found = _read_to_files(specs, chunk_records, str(tmp_path / f'gs{chunk_records}'))
            about = [(t, status) for _, t, status, _ in store.requests(start)
                     if re.search(r'/o/in/hostile\.csv(\?|$)', urllib.parse.unquote(t))]
            # Beam's reader, planning, asks past the end once more: answered 416, not counted.
            downloads = [t for t, status in about if 'alt=media' in t and status < 400]
            metadata = [t for t, _ in about if 'alt=media' not in t]
            assert found == whole, chunk_records
            assert len(downloads) == chunks + 1, about
            assert len(metadata) == 1, about   # the plan's, none a chunk
