"""End to end: `imdb-sentiment preprocess` on a few hundred reviews with bad rows mixed in."""

import csv
import glob
import logging
import os
import re
import subprocess
import sys

import pytest
import tensorflow as tf
import tensorflow_transform as tft

from pipeline import cli
from tests.support.datasets import generated_reviews, review_rows, write_csv, write_titled_csv
from tests.support.paths import ROOT
from pipeline.runtime import local_cores
from tests.support.processes import NOISE, SdkWorkerWatch, clean_env, sdk_workers
from tests.support.read import read_json, read_jsonl
from transforms import features, schema

pytestmark = pytest.mark.e2e

TITLE = features.TITLE.name   # a pass-through column that some CSV files have

N_GOOD = 300
BAD_ROWS = [('', 'positive'), ('A film', 'brilliant'), ('Another film', '')]


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp('data')
    rows = review_rows(N_GOOD)
    rows = rows[:100] + BAD_ROWS + rows[100:] + [rows[5]]  # bad rows and a duplicate review
    path = write_csv(str(folder / 'reviews.csv'), rows)
    with open(path, 'ab') as f:
        f.write(b'caf\xe9 latin-1,positive\n')
        # Its quote never closes: it is the last record, or it would take the rest with it.
        f.write(b'"broken ""quote,positive\n')
    return path


def _run(dataset, out, *extra):
    return cli.main(['preprocess', '--input', dataset, '--output', out,
                     '--max-reject-fraction', '0.1', '--max-tokens', '64', *extra])


@pytest.fixture(scope='module')
def watched_result(dataset, tmp_path_factory):
    """The job in one process, as --direct_num_workers=1 asks: (output, worker pids seen)."""
    out = str(tmp_path_factory.mktemp('run') / 'preprocess')
    with SdkWorkerWatch() as watch:
        assert _run(dataset, out, '--direct_num_workers=1') == 0
    return out, watch.pids


@pytest.fixture(scope='module')
def result(watched_result):
    return watched_result[0]


def _manifest(out):
    return read_json(os.path.join(out, schema.MANIFEST_FILE))


def _examples(out, prefix):
    spec = tft.TFTransformOutput(out).transformed_feature_spec()
    files = sorted(glob.glob(os.path.join(out, f'{prefix}-*{schema.TFRECORD_SUFFIX}')))
    data = tf.data.TFRecordDataset(files, compression_type='GZIP').map(
        lambda x: tf.io.parse_single_example(x, spec))
    return {e['id'].numpy().decode(): e for e in data}


def test_counts_reconcile_and_rejects_are_written(result):
    m = _manifest(result)
    c = m['counts']
    assert m['status'] == 'ok'
    assert c['read'] == N_GOOD + 1 + len(BAD_ROWS) + 2
    assert c['read'] == c['accepted'] + c['rejected'] == c['train'] + c['eval'] + c['rejected']
    assert c['rejected_by_reason'] == {
        'empty_review': 1, 'unknown_label': 1, 'missing_label': 1, 'malformed_csv': 1,
        'undecodable_utf8': 1, 'review_too_long': 0, 'duplicate_id': 0, 'inference_failed': 0}
    rows = read_jsonl(os.path.join(result, 'rejected', '*.jsonl'))
    assert sorted(r['id'] for r in rows) == ['reviews.csv:101', 'reviews.csv:102',
                                             'reviews.csv:103', 'reviews.csv:305',
                                             'reviews.csv:306']
    assert all(r['reason'] and r['raw'] is not None and r['source'] for r in rows)


def test_manifest_records_inputs_options_and_vocabulary(result, dataset):
    m = _manifest(result)
    assert m['inputs'][0]['path'] == dataset and m['inputs'][0]['rows'] == m['counts']['read']
    assert len(m['inputs'][0]['sha256']) == 64
    assert m['options']['max_tokens'] == 64 and m['versions']['tensorflow-transform'] == '1.21.0'
    vocab = open(os.path.join(result, schema.VOCAB_FILE), encoding='utf-8').read().splitlines()
    assert m['vocabulary']['size'] == len(vocab) > 100
    assert 0.5 < m['vocabulary']['eval_token_coverage'] < 1.0
    assert not [p for p in os.listdir(os.path.dirname(result)) if '.partial-' in p]


def test_tfrecords_parse_with_the_transformed_feature_spec(result):
    train, evaluation = _examples(result, 'train'), _examples(result, 'eval')
    m = _manifest(result)
    assert len(train) == m['counts']['train'] and len(evaluation) == m['counts']['eval']
    assert not set(train) & set(evaluation)
    example = next(iter(train.values()))
    ids = example['token_ids'].numpy()
    assert ids.shape == (64,) and ids.min() >= 0
    assert ids.max() <= m['vocabulary']['size'] + 1
    assert example['label'].numpy() in (0, 1)
    assert (ids > 0).sum() == min(64, example['num_tokens'].numpy())


def test_duplicate_review_lands_on_one_side(result):
    train, evaluation = _examples(result, 'train'), _examples(result, 'eval')
    pair = {'reviews.csv:6', 'reviews.csv:304'}  # row 6 repeated as the last good row
    assert pair <= set(train) or pair <= set(evaluation)


def test_one_worker_runs_in_this_process(watched_result):
    out, workers = watched_result
    assert workers == set() and _manifest(out)['worker_processes'] == 1


def test_worker_processes_give_the_same_outputs_and_their_progress(result, dataset, tmp_path,
                                                                  monkeypatch, caplog):
    monkeypatch.setattr(local_cores, 'PROGRESS_EVERY_S', 1.0)
    out = str(tmp_path / 'mp')
    with SdkWorkerWatch() as watch, caplog.at_level(logging.INFO, logger='pipeline'):
        assert _run(dataset, out, '--direct_num_workers=2') == 0   # the mode is added for it
    assert len(watch.pids) == 2 and _manifest(out)['worker_processes'] == 2
    assert 'preprocess: in 2 worker processes: --direct_num_workers=2 asks for it' in caplog.text
    # The workers' counts, read by the launcher: in this process nothing was counted.
    assert re.search(r'reviews read: [\d,]+ so far.* \(in 2 worker processes\)', caplog.text)
    assert not any(sdk_workers(os.getpid()))
    read = lambda p: open(os.path.join(p, schema.VOCAB_FILE), encoding='utf-8').read()
    assert read(out) == read(result)
    for prefix in ('train', 'eval'):
        a, b = _examples(result, prefix), _examples(out, prefix)
        assert a.keys() == b.keys()
        for key in a:
            assert a[key]['token_ids'].numpy().tolist() == b[key]['token_ids'].numpy().tolist()


def test_too_many_rejects_fail_after_writing(dataset, tmp_path, capsys):
    out = str(tmp_path / 'strict')
    code = cli.main(['preprocess', '--input', dataset, '--output', out])
    err = capsys.readouterr().err.strip()
    assert code == cli.EXIT_REJECTS
    assert len(err.splitlines()) == 1 and 'exceeds --max-reject-fraction 0.01' in err
    failed, = glob.glob(out + '.failed-*')  # named in the message; never the output itself
    assert failed in err and not os.path.exists(out)
    assert _manifest(failed)['status'] == 'failed'
    assert glob.glob(os.path.join(failed, 'rejected', '*.jsonl'))


@pytest.mark.parametrize('argv, message', [
    (['preprocess', '--input', '/no/such.csv', '--output', '/tmp/x'], 'input not found'),
    (['preprocess', '--input', 'x.csv'], 'required: --output'),
    (['preprocess', '--input', 'x.csv', '--output', 'o', '--max-tokns', '5'], 'unrecognized'),
    (['preprocess', '--input', 'x.csv', '--output', 'o', '--eval-fraction', '2'], 'between 0'),
    (['nonsense'], 'unknown command'),
])
def test_user_mistakes_give_one_clear_line(argv, message, capsys):
    try:
        code = cli.main(argv)
    except SystemExit as e:  # argparse's own usage errors
        code = e.code
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert message in err and 'Traceback' not in err


def test_help_explains_the_job(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(['preprocess', '--help'])
    out = capsys.readouterr().out
    assert e.value.code == 0
    for text in ('--input', '--max-tokens', '--lemmatize', 'DataflowRunner', 'aclImdb'):
        assert text in out


def test_eval_reviews_are_written_with_their_ids(result, dataset):
    from transforms.beam.inputs import resolve_inputs
    from transforms.beam.read import parse_csv_line
    files = sorted(glob.glob(os.path.join(result, 'eval_reviews', 'eval-*.csv')))
    spec = resolve_inputs([os.path.join(result, 'eval_reviews', 'eval-*.csv')])[0]
    rows = [parse_csv_line(line, spec.columns) for f in files for line in open(f, 'rb').readlines()[1:]]
    assert {r['id'] for r in rows} == set(_examples(result, 'eval'))
    originals = {f'reviews.csv:{i}': line for i, line in enumerate(
        open(dataset, encoding='utf-8', errors='replace').read().split('\n')[1:], 1)}
    for r in rows[:20]:
        assert 'parse_error' not in r and r['label'] in ('positive', 'negative')
        assert parse_csv_line(originals[r['id']].encode(), ('review', 'sentiment'))['review'] == r['review']


def test_movies_keep_each_movie_on_one_side(dataset, tmp_path):
    groups = tmp_path / 'groups.csv'
    groups.write_text('id,group\n' + ''.join(f'reviews.csv:{i},movie{i % 7}\n'
                                             for i in range(1, 200)))
    out = str(tmp_path / 'grouped')
    assert _run(dataset, out, '--movies', str(groups), '--eval-fraction', '0.5') == 0
    train, evaluation = _examples(out, 'train'), _examples(out, 'eval')
    side = {}
    for i in range(1, 200):
        key = f'reviews.csv:{i}'
        if key in train or key in evaluation:
            side.setdefault(i % 7, set()).add(key in evaluation)
    assert all(len(s) == 1 for s in side.values()) and len(side) == 7
    assert {True, False} <= {v for s in side.values() for v in s}
    counts = _manifest(out)['counts']  # both reads of the input split alike
    assert (len(train), len(evaluation)) == (counts['train'], counts['eval'])
    assert _manifest(out)['options']['movies'] == str(groups)


def test_repeated_user_ids_are_transformed_once_and_counted_as_dead_letters(tmp_path):
    """The transformed splits come from a second read of the input: it must keep exactly the
    records the first (counted) read kept, the first of each repeated id included."""
    rows = review_rows(80)
    first, second = tmp_path / 'a.csv', tmp_path / 'b.csv'
    for path, start, part in ((first, 0, rows[:50]), (second, 40, rows[50:])):  # u40..u49 twice
        with open(path, 'w', newline='', encoding='utf-8') as f:
            csv.writer(f).writerows([('id', 'review', 'sentiment'), *(
                (f'u{start + i}', text, label) for i, (text, label) in enumerate(part))])
    out = str(tmp_path / 'p')
    assert _run(str(tmp_path / '*.csv'), out, '--max-reject-fraction', '0.5') == 0
    counts = _manifest(out)['counts']
    assert counts['rejected_by_reason']['duplicate_id'] == 10
    train, evaluation = _examples(out, 'train'), _examples(out, 'eval')
    assert (len(train), len(evaluation)) == (counts['train'], counts['eval'])
    assert set(train) | set(evaluation) == {f'u{i}' for i in range(70)}
    kept = {e['id'].numpy().decode(): e['label'].numpy() for e in [*train.values(),
                                                                   *evaluation.values()]}
    assert [kept[f'u{i}'] for i in range(40, 50)] == [
        schema.LABEL_TO_INT[label] for _, label in rows[40:50]]  # the first file's records


@pytest.mark.parametrize('content, extra, message', [
    (None, [], 'no such file'),
    ('review,sentiment\n', [], 'header must start with'),
    ('row,movie,rating\n1,tt1,4\n', [], '--movies-for'),
    ('id,rating\nreviews.csv:1,4\n', [], 'no movie (or group) column to split by'),
])
def test_bad_movies_file_is_a_usage_error(dataset, tmp_path, capsys, content, extra, message):
    groups = tmp_path / 'groups.csv'
    if content is not None:
        groups.write_text(content)
    assert _run(dataset, str(tmp_path / 'o'), '--movies', str(groups), *extra) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and 'Traceback' not in err


def test_unlabeled_reviews_are_transformed_with_the_train_vocabulary(dataset, result, tmp_path,
                                                                     capsys):
    from tests.support.datasets import write_aclimdb
    unlabeled = write_csv(str(tmp_path / 'unsup.csv'),
                          [('zebra zebra quokka film', ), ('', ), ('the film was good', )],
                          header=('review',))
    acl = write_aclimdb(str(tmp_path / 'acl'), 'train', [('Fine film.', 'positive')])
    os.makedirs(os.path.join(acl, 'unsup'))
    with open(os.path.join(acl, 'unsup', '0_0.txt'), 'w') as f:
        f.write('A film about a quokka.')
    out = str(tmp_path / 'with_unlabeled')
    assert _run(dataset, out, '--unlabeled', unlabeled, '--unlabeled', acl) == 0
    m = _manifest(out)
    c = m['counts']
    # 2 of the CSV (the empty review is a dead letter) + the aclImdb folder's pos and unsup files.
    assert (c['unlabeled_read'], c['unlabeled'], c['unlabeled_rejected']) == (5, 4, 1)
    assert c['read'] == c['accepted'] + c['rejected']  # the labelled counts are untouched
    assert {i['path'] for i in m['inputs']} == {dataset, unlabeled, acl}
    assert glob.glob(os.path.join(out, 'rejected', 'unlabeled-*'))
    examples = _examples(out, 'unlabeled')
    assert set(examples) == {'unsup.csv:1', 'unsup.csv:3', 'train/pos/0_8.txt',
                             'train/unsup/0_0.txt'}
    assert all(int(e['label']) == schema.UNLABELED_ID for e in examples.values())
    # Words only the unlabeled reviews use are out of the vocabulary: it is the train split's.
    vocab = open(os.path.join(out, schema.VOCAB_FILE)).read().split()
    assert 'zebra' not in vocab and 'film' in vocab
    ids = examples['unsup.csv:1']['token_ids'].numpy()
    film = vocab.index('film') + 1  # ids start at 1; 0 pads
    assert ids[3] == film and ids[0] == ids[1] > len(vocab)  # zebra twice: the OOV bucket
    for split in ('train', 'eval'):  # the labelled splits are as without --unlabeled
        assert _examples(out, split).keys() == _examples(result, split).keys()
    # The same CSV as input and unlabeled is a mistake.
    assert _run(dataset, str(tmp_path / 'o'), '--unlabeled', dataset) == cli.EXIT_USAGE
    assert 'reads it already' in capsys.readouterr().err



def test_preprocess_writes_the_test_split_as_raw_reviews_only(tmp_path):
    import tensorflow as tf
    rows = generated_reviews(300, seed=5)
    data = write_csv(str(tmp_path / 'reviews.csv'), rows)
    out = str(tmp_path / 'pre')
    assert cli.main(['preprocess', '--input', data, '--output', out, '--max-tokens', '16',
                     '--test-fraction', '0.2']) == 0
    test_ids = _csv_ids(os.path.join(out, schema.TEST_REVIEWS_DIR, f'{schema.TEST_PREFIX}-*.csv'))
    eval_ids = _csv_ids(os.path.join(out, schema.EVAL_REVIEWS_DIR, f'{schema.EVAL_PREFIX}-*.csv'))
    transformed = set()
    for path in glob.glob(os.path.join(out, '*' + schema.TFRECORD_SUFFIX)):
        for record in tf.data.TFRecordDataset(path, compression_type='GZIP'):
            example = tf.train.Example.FromString(record.numpy())
            transformed.add(example.features.feature[schema.ID_KEY].bytes_list.value[0].decode())
    assert test_ids and eval_ids
    assert not set(test_ids) & set(eval_ids)
    assert not set(test_ids) & transformed  # not trained on, not early-stopped or fused on
    assert set(eval_ids) <= transformed
    assert len(test_ids) + len(transformed) == len(rows)
    assert not glob.glob(os.path.join(out, f'{schema.TEST_PREFIX}-*'))
    manifest = read_json(os.path.join(out, schema.MANIFEST_FILE))
    assert manifest['counts'][schema.TEST_PREFIX] == len(test_ids)
    assert manifest['counts']['train'] + manifest['counts']['eval'] == len(transformed)


def test_a_preprocess_run_logs_progress_and_no_library_noise(tmp_path):
    data = write_csv(str(tmp_path / 'reviews.csv'), generated_reviews(120, seed=3))
    out = subprocess.run(
        [sys.executable, '-m', 'pipeline.cli', 'preprocess', '--input', data,
         '--output', str(tmp_path / 'pre'), '--max-tokens', '16', '--test-fraction', '0.2'],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=clean_env())
    assert out.returncode == 0, out.stderr[-3000:]
    noisy = [line for line in out.stderr.splitlines() if any(n in line for n in NOISE)]
    assert not noisy, noisy
    assert 'INFO Wrote' in out.stderr
    assert 'INFO Read 120, accepted 120' in out.stderr


def _csv_ids(pattern):
    ids = []
    for path in glob.glob(pattern):
        with open(path, newline='', encoding='utf-8') as f:
            ids += [row[schema.ID_KEY] for row in csv.DictReader(f)]
    return ids


def test_preprocess_keeps_the_title_with_the_eval_reviews_and_out_of_the_examples(tmp_path):
    import tensorflow as tf
    rows = generated_reviews(60, seed=9)
    data = write_titled_csv(str(tmp_path / 'reviews.csv'), rows)
    out = str(tmp_path / 'preprocess')
    assert cli.main(['preprocess', '--input', data, '--output', out, '--max-tokens', '16',
                     '--ngram-max', '0', '--eval-fraction', '0.5']) == 0
    evaluated = []
    for path in glob.glob(os.path.join(out, schema.EVAL_REVIEWS_DIR, '*.csv')):
        with open(path, newline='', encoding='utf-8') as f:
            evaluated += list(csv.DictReader(f))
    assert evaluated
    for row in evaluated:
        number = int(row['id'].rsplit(':', 1)[1])
        assert row[TITLE] == f'Title {number - 1}' and row['review'] == rows[number - 1][0]
    record = next(iter(tf.data.TFRecordDataset(
        glob.glob(os.path.join(out, f'{schema.TRAIN_PREFIX}-*')), compression_type='GZIP')))
    example = tf.train.Example.FromString(record.numpy())
    assert TITLE not in example.features.feature
    assert schema.ID_KEY in example.features.feature
