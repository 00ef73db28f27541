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


# --- Paths mean what they say (a path that exists is read as named) --------------------------

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


# --- Outputs own their kind ----------------------------------------------------------------

def test_a_nightly_root_and_an_ad_hoc_output_never_take_each_others_place(tmp_path):
    from pipeline.runtime.guard import check_nightly_root, check_output
    from transforms.errors import OutputError
    ad_hoc, root = tmp_path / 'adhoc', tmp_path / 'nightly'
    ad_hoc.mkdir()
    (ad_hoc / 'manifest.json').write_text(json.dumps({'job': 'score', 'status': 'ok'}))
    (root / 'dt=2026-11-24').mkdir(parents=True)
    (root / 'dt=2026-11-24' / 'manifest.json').write_text(json.dumps({'job': 'score'}))
    (root / 'history.json').write_text('{}')
    check_output(str(ad_hoc), 'score')           # its own earlier output: replaced
    check_nightly_root(str(root))                # partitions and the history: a root
    check_nightly_root(str(tmp_path / 'new'))    # nothing yet
    with pytest.raises(OutputError, match='root of nightly runs'):
        check_output(str(root), 'score')         # an undated run would delete the nights
    with pytest.raises(OutputError, match='without --date'):
        check_nightly_root(str(ad_hoc))          # a dated run inside an ad-hoc output
    (tmp_path / 'mine').mkdir()
    (tmp_path / 'mine' / 'notes.txt').write_text('mine')
    with pytest.raises(OutputError, match='not nightly partitions'):
        check_nightly_root(str(tmp_path / 'mine'))
    # An own earlier output that holds another run's published output is not replaced.
    (ad_hoc / 'kept').mkdir()
    (ad_hoc / 'kept' / 'manifest.json').write_text(json.dumps({'job': 'explore'}))
    with pytest.raises(OutputError, match='holds the output of another run'):
        check_output(str(ad_hoc), 'score')


# --- Flags: every mistake before any work, in one line -------------------------------------

@pytest.mark.parametrize('argv, message', [
    (['explore', '--input', 'x.csv', '--output', 'o', '--date', '2026-11-24'],
     'unrecognized arguments: --date'),            # another job's flag
    (['score', '--input', 'x.csv', '--output', 'o', '--model', 'm', '--vocab-size', '10'],
     'unrecognized arguments: --vocab-size'),
    (['score', '--input', 'x.csv', '--output', 'o', '--model', 'm', '--min-batch-size', '100',
      '--max-batch-size', '10'], '--min-batch-size 100 is larger than --max-batch-size 10'),
    (['preprocess', '--input', 'x.csv', '--output', 'o', '--eval-fraction', '0.6',
      '--test-fraction', '0.6'], 'leave no review to train on'),
    (['train', '--data', 'd', '--output', 'o', '--epochs', '0'], 'epochs must be at least 1'),
])
def test_a_flag_mistake_is_a_usage_error_before_any_work(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and message in err and 'Traceback' not in err


def test_run_checks_every_steps_flags_before_the_first_step(tmp_path, capsys):
    data = write_csv(str(tmp_path / 'r.csv'), [('a fine film', 'positive')] * 4)
    out = tmp_path / 'run'
    with pytest.raises(SystemExit) as stopped:
        cli.main(['run', '--input', data, '--output', str(out), '--epochs', '0'])
    assert stopped.value.code == 2
    assert 'imdb-sentiment train: error: epochs must be at least 1' in capsys.readouterr().err
    assert not os.path.exists(out / 'explore') and not os.path.exists(out / 'preprocess')


def test_repeated_ids_across_files_are_dead_letters_named_by_their_place():
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to
    from transforms.beam.unique_ids import FindRepeats, ids_of, mark_repeats
    # b.csv was named first: its record 1 is the one id r1 belongs to.
    records = [{'id': 'r1', 'source': '/d/a.csv', 'row': 1, 'file_number': (1, 0)},
               {'id': 'r1', 'source': '/d/b.csv', 'row': 1, 'file_number': (0, 0)},
               {'id': 'r2', 'source': '/d/a.csv', 'row': 2, 'file_number': (1, 0)},
               {'id': 'r1', 'source': '/d/a.csv', 'row': 3, 'file_number': (1, 0)}]
    with TestPipeline() as p:
        rows = p | beam.Create(records)
        marked = mark_repeats(rows, (ids_of(p | 'Ids' >> beam.Create(records)),
                                     ids_of(p | 'Again' >> beam.Create(records),
                                            label='Again ids')) | FindRepeats())
        assert_that(marked | beam.Map(lambda r: (r['id'], r.get('parse_error'), r.get('detail'))),
                    equal_to([('r1', None, None), ('r2', None, None),
                              ('a.csv:1', 'duplicate_id',
                               "id 'r1' was given to record 1 of /d/b.csv already"),
                              ('a.csv:3', 'duplicate_id',
                               "id 'r1' was given to record 1 of /d/b.csv already")]))



def test_repeated_fingerprints_are_found_across_merged_accumulators():
    from transforms.beam.unique_ids import RepeatedFingerprints, fingerprint
    combine = RepeatedFingerprints()
    parts = [['a', 'b', 'c'], ['d', 'b'], [], ['e', 'e', 'b']]
    accumulators = []
    for part in parts:
        accumulator = combine.create_accumulator()
        for record_id in part:
            accumulator = combine.add_input(accumulator, fingerprint(record_id))
        accumulators.append(accumulator)
    assert combine.extract_output(combine.merge_accumulators(accumulators)) == {
        fingerprint('b'), fingerprint('e')}
    assert combine.extract_output(combine.create_accumulator()) == frozenset()
    # The same in any process: no per-process salt, as hash() has for strings.
    assert fingerprint('r1') == fingerprint(''.join(['r', '1'])) != fingerprint('r2')


def test_the_id_shuffle_carries_only_the_records_whose_id_repeats():
    """The memory of the id check: of 3,002 records, only the 3 that share an id reach the
    shuffle (each id with its place, and the DirectRunner holds a shuffle whole); the other
    ids are fingerprints in an array."""
    import apache_beam as beam
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to
    from transforms.beam.unique_ids import FindRepeats, ids_of, mark_repeats
    records = [{'id': f'r{i}', 'source': '/d/a.csv', 'row': i, 'file_number': (0, 0)}
               for i in range(1, 3001)]
    records += [{'id': 'r7', 'source': '/d/b.csv', 'row': 1, 'file_number': (0, 1)},
                {'id': 'r7', 'source': '/d/b.csv', 'row': 2, 'file_number': (0, 1)}]
    pipeline = TestPipeline()
    ids = ids_of(pipeline | 'Ids' >> beam.Create(records))
    again = ids_of(pipeline | 'Again' >> beam.Create(records), label='Again ids')
    repeats = (ids, again) | FindRepeats()
    marked = mark_repeats(pipeline | beam.Create(records), repeats)
    assert_that(marked | beam.Filter(lambda r: r.get('parse_error'))
                | beam.Map(lambda r: (r['id'], r['detail'])),
                equal_to([('b.csv:1', "id 'r7' was given to record 7 of /d/a.csv already"),
                          ('b.csv:2', "id 'r7' was given to record 7 of /d/a.csv already")]))
    result = pipeline.run()
    result.wait_until_finish()
    counters = {c.key.metric.name: c.committed for c in result.metrics().query(
        MetricsFilter().with_namespace('ids'))['counters']}
    assert counters == {'suspected': 3, 'repeated': 2}
