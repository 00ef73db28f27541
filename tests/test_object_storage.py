"""Outputs and inputs on object storage (gs://), against a real GCS API on 127.0.0.1.

fake-gcs-server (tests/support/gcs_emulator.py) serves one in-memory store for the module;
the jobs run as a user runs them, ``python -m pipeline.cli`` in their own processes, which
reach it through ``STORAGE_EMULATOR_HOST`` and the test-side shim. Without Go the module
skips, unless ``IMDB_SENTIMENT_REQUIRE_GCS=1`` (CI), where it fails.
"""

import json
import os
import signal
import subprocess
import sys
import uuid
from typing import Dict, Optional

import pytest

from analysis.history_report import SCORED
from tests.support import gcs_emulator, processes, same_outputs, tf_gcs_proxy
from tests.support.datasets import generated_reviews, review_rows, write_csv
from tests.support.paths import ROOT

pytestmark = pytest.mark.e2e
BUCKET = 'imdb-test'


@pytest.fixture(scope='module')
def gcs(tmp_path_factory):
    """(the emulator, a bucket's gs:// root) for the module."""
    with gcs_emulator.running_with_bucket(tmp_path_factory, BUCKET) as emulator:
        yield emulator, f'gs://{BUCKET}'


def _cli(*args: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'pipeline.cli', *args], cwd=ROOT,
                          env=dict(os.environ, **(env or {})), capture_output=True, text=True,
                          timeout=300)


def _upload(local: str, target: str) -> str:
    """One file, its bytes as they are (a .gz is not compressed again)."""
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems
    with open(local, 'rb') as source, FileSystems.create(
            target, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        f.write(source.read())
    return target


def _upload_folder(local: str, target: str) -> str:
    for folder, _, names in os.walk(local):
        for name in names:
            rel = os.path.relpath(os.path.join(folder, name), local).replace(os.sep, '/')
            _upload(os.path.join(folder, name), f'{target}/{rel}')
    return target


def _read(path: str) -> bytes:
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return f.read()


def test_files_are_written_listed_read_renamed_and_deleted_through_beam(gcs):
    from apache_beam.io.filesystems import FileSystems
    emulator, root = gcs
    folder = f'{root}/roundtrip-{uuid.uuid4().hex[:6]}'
    for i in range(3):
        with FileSystems.create(f'{folder}/part-{i}.txt') as f:
            f.write(f'row {i}\n'.encode())
    listed = sorted(m.path for m in FileSystems.match([folder + '/**'])[0].metadata_list)
    assert listed == [f'{folder}/part-{i}.txt' for i in range(3)]
    assert _read(f'{folder}/part-1.txt') == b'row 1\n'
    # Rename and delete go through batch requests: each part must reach the store.
    FileSystems.rename([f'{folder}/part-0.txt'], [f'{folder}/moved/part-0.txt'])
    FileSystems.delete([f'{folder}/part-1.txt', f'{folder}/part-2.txt'])
    bucket, prefix = folder[len('gs://'):].split('/', 1)
    assert emulator.objects(bucket, prefix + '/') == [f'{prefix}/moved/part-0.txt']


def _objects(emulator, prefix: str) -> list:
    """The object names under ``prefix`` in the module's bucket, relative to it."""
    return [n[len(prefix):] for n in emulator.objects(BUCKET, prefix)]


@pytest.fixture(scope='module')
def reviews_csv(gcs, tmp_path_factory):
    """40 labelled reviews, uploaded."""
    local = write_csv(str(tmp_path_factory.mktemp('csv') / 'reviews.csv'), review_rows(40))
    return _upload(local, f'{gcs[1]}/inputs/reviews.csv')


EXPLORE_OUTPUT = ['manifest.json', 'rejected/rejected-00000-of-00001.jsonl', 'report.html',
                  'stats.json']


def test_explore_reads_and_writes_gs_and_publishes_no_temporary_folder(gcs, reviews_csv):
    emulator, root = gcs
    done = _cli('explore', '--input', reviews_csv, '--output', f'{root}/explore')
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads(_read(f'{root}/explore/manifest.json'))
    assert manifest['status'] == 'ok' and manifest['counts']['read'] == 40
    assert b'<html' in _read(f'{root}/explore/report.html').lower()
    # Whole: no _stats/ or Beam temporary folders inside, and no staging folder beside.
    assert _objects(emulator, 'explore') == [f'/{name}' for name in EXPLORE_OUTPUT]


def test_a_rerun_of_score_leaves_no_object_of_the_old_output(gcs, reviews_csv, trained):
    emulator, root = gcs
    output = f'{root}/score'
    args = ['score', '--input', reviews_csv, '--model', trained['model'], '--output', output]
    first = _cli(*args)
    assert first.returncode == 0, first.stderr[-3000:]
    published = _objects(emulator, 'score/')
    assert 'manifest.json' in published and not [n for n in published if n.startswith('_')]
    # A stale shard, as a run with more workers would have left it.
    stray = f'{output}/predictions/predictions-00001-of-00002.jsonl'
    _upload(trained['csv'], stray)
    again = _cli(*args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert _objects(emulator, 'score/') == published
    predictions = [json.loads(line) for name in published if name.startswith('predictions/')
                   for line in _read(f'{output}/{name}').decode().splitlines() if line]
    assert len(predictions) == 40


def test_a_killed_runs_staging_folder_is_removed_by_the_next_run(gcs, reviews_csv):
    emulator, root = gcs
    args = ['explore', '--input', reviews_csv, '--output', f'{root}/killed']
    run = processes.start(args)
    try:
        staged = processes.wait_for(lambda: _objects(emulator, 'killed.partial-'), 120)
    finally:
        run.send_signal(signal.SIGKILL)
        run.communicate()
    assert staged, 'the run ended before it wrote anything to stage'
    assert _objects(emulator, 'killed.partial-')     # the killed run's debris, still there
    done = _cli(*args)
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'left by an earlier run of this output that was killed' in done.stderr
    assert _objects(emulator, 'killed') == [f'/{name}' for name in EXPLORE_OUTPUT]


def test_a_run_killed_past_its_commit_is_finished_by_the_next_run_of_the_job(gcs, reviews_csv):
    """The state a kill leaves mid-publish, after the commit object and the old manifest's
    deletion (tests/pipeline/runtime/test_object_publish.py kills at each step): the next explore is
    not refused, finishes that publish first, then publishes its own, whole."""
    from pipeline.runtime import object_store
    emulator, root = gcs
    output = f'{root}/committed'
    args = ['explore', '--input', reviews_csv, '--output', output]
    first = _cli(*args)
    assert first.returncode == 0, first.stderr[-3000:]
    staged = output + '.partial-0123abcd'
    object_store.copy_folder(output, staged)
    assert object_store.create_new(output + '.commit', json.dumps(
        {'staged': '.partial-0123abcd', 'token': uuid.uuid4().hex}).encode())
    object_store.delete(f'{output}/manifest.json')
    again = _cli(*args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f'Finishing the publish of {output} from {staged}' in again.stderr
    assert _objects(emulator, 'committed') == [f'/{name}' for name in EXPLORE_OUTPUT]


@pytest.mark.parametrize('required', ['', '1'])
def test_without_go_the_emulator_tests_skip_unless_required(tmp_path, monkeypatch, required):
    monkeypatch.setenv('IMDB_SENTIMENT_CACHE', str(tmp_path))  # no binary built there
    monkeypatch.setattr(gcs_emulator, '_go', lambda: None)
    monkeypatch.setenv(gcs_emulator.REQUIRE_ENV, required)
    outcome = pytest.fail.Exception if required else pytest.skip.Exception
    with pytest.raises(outcome, match='Go is not installed'):
        with gcs_emulator.running(str(tmp_path)):
            pass


# --- train on gs://, and the export it publishes there loaded by score and predict ----------

@pytest.fixture(scope='module')
def gs_model(gcs, trained):
    """``train --data gs:// --output gs://`` over an earlier train output holding a stray
    object: (the published export's gs:// path, the objects listed after the run)."""
    emulator, root = gcs
    data = _upload_folder(trained['preprocess'], f'{root}/trainer/preprocess')
    output = _upload_folder(trained['model'], f'{root}/trainer/model')
    _upload(trained['csv'], f'{output}/stray.csv')
    done = _cli('train', '--data', data, '--output', output, '--epochs', '1',
                *processes.TINY_MODEL)
    assert done.returncode == 0, done.stderr[-3000:]
    return output, _objects(emulator, 'trainer/model')


def test_train_reads_and_publishes_on_gs_replacing_the_old_output_whole(gs_model, trained):
    output, listed = gs_model
    # Only the output itself: no .partial- (or any other folder) left beside it.
    assert listed and all(name.startswith('/') for name in listed), listed
    names = {name[1:] for name in listed}
    manifest = json.loads(_read(f'{output}/manifest.json'))
    assert manifest['job'] == 'train' and manifest['status'] == 'ok'
    assert manifest['preprocess']['path'] == output.rsplit('/', 1)[0] + '/preprocess'
    old = json.load(open(os.path.join(trained['model'], 'manifest.json')))
    assert manifest['created'] != old['created'] or manifest['wall_time_s'] != old['wall_time_s']
    assert 'stray.csv' not in names                        # nothing of the old output is left
    assert set(manifest['export_files']) <= names           # the export, plots, logs
    assert {'manifest.json', 'history.csv'} <= names
    assert any(n.startswith('plots/') for n in names) and any(n.startswith('logs/') for n in names)
    for rel, expected in manifest['export_files'].items():  # copied up as they were written
        assert len(_read(f'{output}/{rel}')) == expected['bytes'], rel


def _download_folder(source: str, target: str, emulator) -> str:
    bucket, prefix = source[len('gs://'):].split('/', 1)
    for name in emulator.objects(bucket, prefix + '/'):
        if name.endswith('/'):
            continue  # an empty object TensorFlow's GCS client makes for a folder
        local = os.path.join(target, *name[len(prefix) + 1:].split('/'))
        os.makedirs(os.path.dirname(local), exist_ok=True)
        with open(local, 'wb') as f:
            f.write(_read(f'gs://{bucket}/{name}'))
    return target


def _predictions(read, folder: str, names) -> dict:
    rows = [json.loads(line) for name in names for line in read(f'{folder}/{name}').splitlines()
            if line.strip()]
    return {row['id']: row['probability'] for row in rows}


def test_score_and_predict_load_a_gs_model_as_its_local_copy(gcs, gs_model, tmp_path):
    emulator, root = gcs
    model, _ = gs_model
    local_model = _download_folder(model, str(tmp_path / 'model'), emulator)
    # The same reviews, under the same file name (ids name it), on both sides.
    reviews = write_csv(str(tmp_path / 'reviews.csv'), review_rows(30))
    remote = _upload(reviews, f'{root}/trainer/inputs/reviews.csv')
    on_gs = _cli('score', '--input', remote, '--model', model, '--output',
                 f'{root}/trainer/score')
    assert on_gs.returncode == 0, on_gs.stderr[-3000:]
    local = _cli('score', '--input', reviews, '--model', local_model, '--output',
                 str(tmp_path / 'score'))
    assert local.returncode == 0, local.stderr[-3000:]
    shards = [n for n in _objects(emulator, 'trainer/score/') if n.startswith('predictions/')]
    assert shards
    from_gs = _predictions(lambda p: _read(p).decode(), f'{root}/trainer/score', shards)
    local_shards = sorted(os.path.relpath(os.path.join(d, n), str(tmp_path / 'score'))
                          for d, _, names in os.walk(str(tmp_path / 'score' / 'predictions'))
                          for n in names if n.endswith('.jsonl'))
    from_disk = _predictions(lambda p: open(p, encoding='utf-8').read(),
                             str(tmp_path / 'score'), local_shards)
    assert len(from_gs) == 30 and set(from_gs) == set(from_disk)
    assert all(abs(from_gs[k] - from_disk[k]) <= 1e-6 for k in from_gs)
    texts = [text for text, _ in review_rows(3)]
    said = [_cli('predict', '--model', path, *texts) for path in (model, local_model)]
    assert [p.returncode for p in said] == [0, 0], said[0].stderr[-3000:]
    assert said[0].stdout == said[1].stdout and len(said[0].stdout.splitlines()) == 3


def test_a_train_that_fails_leaves_the_published_model_as_it_was(gcs, gs_model, trained):
    emulator, root = gcs
    output, listed = gs_model
    data = _upload_folder(trained['preprocess'], f'{root}/trainer/truncated')
    manifest = json.load(open(os.path.join(trained['preprocess'], 'manifest.json')))
    record = next(r for r in manifest['output_files'] if r.startswith('train-'))
    _upload(trained['csv'], f'{data}/{record}')             # another size than listed
    done = _cli('train', '--data', data, '--output', output, '--epochs', '1',
                *processes.TINY_MODEL)
    assert done.returncode == 2, done.stderr[-3000:]
    assert f'--data {data}: {record} has ' in done.stderr and 'run preprocess again' in done.stderr
    assert _objects(emulator, 'trainer/model') == listed   # no .partial-, the model untouched


# --- A model registry on gs:// -------------------------------------------------------------

def test_a_registry_on_gs_numbers_versions_promotes_by_hand_and_serves_its_champion(
        gcs, reviews_csv, trained):
    """``train --registry`` twice, ``models`` list, a refused and a forced promote, a
    rollback, and ``score --model REGISTRY`` using the champion: all on gs://."""
    emulator, root = gcs
    data = _upload_folder(trained['preprocess'], f'{root}/registry/preprocess')
    models = f'{root}/registry/models'
    for _ in range(2):
        done = _cli('train', '--data', data, '--output', models, '--registry', '--epochs', '1',
                    *processes.TINY_MODEL)
        assert done.returncode == 0, done.stderr[-3000:]
    assert f'model in {models}/2.' in done.stderr, done.stderr[-500:]
    listed = _cli('models', 'list', models)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:3]] == ['1', '2']
    assert 'champion: none yet' in listed.stdout
    refused = _cli('models', 'promote', models, '1', '--reason', 'unjudged')
    assert refused.returncode == 2 and 'never evaluated' in refused.stderr
    assert 'Traceback' not in refused.stderr
    for version in ('1', '2'):
        promoted = _cli('models', 'promote', models, version, '--force', '--reason', 'by hand')
        assert promoted.returncode == 0, promoted.stderr[-3000:]
    assert 'champion: version 2 (was 1)' in promoted.stdout
    back = _cli('models', 'rollback', models, '--reason', 'back')
    assert back.returncode == 0 and 'champion: version 1 (was 2)' in back.stdout, back.stderr
    scored = _cli('score', '--input', reviews_csv, '--model', models,
                  '--output', f'{root}/registry/score')
    assert scored.returncode == 0, scored.stderr[-3000:]
    used = json.loads(_read(f'{root}/registry/score/manifest.json'))['model']
    assert (used['registry'], used['version'], used['champion']) == (models, 1, True)
    assert used['path'] == f'{models}/1'
    # The versions, their claims and the record: no staging, lock or commit object left.
    assert sorted({n.split('/')[0] for n in _objects(emulator, 'registry/models/')}) == [
        '1', '1.claim', '2', '2.claim', 'champion.json']


# --- The whole product on gs://, against a local run on the same reviews -------------------

def test_the_whole_product_on_gs_gives_what_a_local_run_gives(gcs, trained, tmp_path):
    """explore, preprocess, train into a registry, evaluate, promote (pinning the gate set),
    score and predict, every path on gs://: the same counts, vocabulary, statistics and
    transformed examples as the same jobs on local paths, and the same predictions (within
    1e-6) as a local score with the same model. TensorFlow's own GCS client (tf.Transform's
    temporary files) reaches the emulator through the test's proxy."""
    emulator, root = gcs
    gs, local = f'{root}/product', str(tmp_path / 'local')
    reviews = _upload(trained['csv'], f'{gs}/reviews.csv')
    held_out = _upload(write_csv(str(tmp_path / 'held_out.csv'), generated_reviews(60, seed=2)),
                       f'{gs}/held_out.csv')
    with tf_gcs_proxy.Proxy(emulator.url, str(tmp_path)) as proxy:
        def both(job, *args, gs_args=(), local_args=()):
            for base, data, more in ((gs, reviews, gs_args), (local, trained['csv'], local_args)):
                done = _cli(job, *[a.format(base=base, data=data) for a in args], *more,
                            env=proxy.env())
                assert done.returncode == 0, (job, base, done.stderr[-3000:])

        both('explore', '--input', '{data}', '--output', '{base}/explore')
        both('preprocess', '--input', '{data}', '--output', '{base}/preprocess',
             '--max-tokens', '32')
        models = f'{gs}/models'
        for args in (['train', '--data', f'{gs}/preprocess', '--output', models, '--registry',
                      '--epochs', '1', *processes.TINY_MODEL],
                     ['evaluate', '--candidate', models, '--data', held_out,
                      '--output', f'{gs}/evaluate', '--min-reviews', '50',
                      '--min-accuracy', '0.6'],
                     ['models', 'promote', models, '1', '--reason', 'blessed on gs://']):
            done = _cli(*args, env=proxy.env())
            assert done.returncode == 0, (args[0], done.stderr[-3000:])
        assert 'gate set: 60 labelled reviews' in done.stdout, done.stderr[-3000:]
        nights = ['2026-11-01', '2026-11-02']
        for night in nights:
            _upload(str(tmp_path / 'held_out.csv'), f'{gs}/incoming/dt={night}/r.csv')
        done = _cli('score', '--input', f'{gs}/incoming/dt={{date}}/r.csv', '--model', models,
                    '--output', f'{gs}/nightly', '--no-explain', '--dates',
                    f'{nights[0]}..{nights[-1]}', env=proxy.env())
        assert done.returncode == 0, done.stderr[-3000:]
        model = _download_folder(f'{models}/1', str(tmp_path / 'model'), emulator)
        both('score', '--input', '{data}', '--output', '{base}/score',
             gs_args=['--model', models], local_args=['--model', model])
        predicted = _cli('predict', '--model', models, 'a wonderful film', env=proxy.env())
        assert predicted.returncode == 0, predicted.stderr[-3000:]
    copies = {name: _download_folder(f'{gs}/{name}', str(tmp_path / 'gs' / name), emulator)
              for name in ('explore', 'preprocess', 'score')}
    same_outputs.assert_same_explore(f'{local}/explore', copies['explore'])
    same_outputs.assert_same_preprocess(f'{local}/preprocess', copies['preprocess'])
    assert same_outputs.assert_same_score(f'{local}/score', copies['score'], tol=1e-6) == 240
    verdict = json.loads(_read(f'{models}/blessings/1.json'))
    assert verdict['blessed'] is True
    gate = json.loads(_read(f'{models}/gate_set/manifest.json'))
    assert gate['count'] == 60 and gate['source'] == [held_out]
    history = json.loads(_read(f'{gs}/nightly/history.json'))['nights']
    assert [(n['date'], n['status']) for n in history] == [(d, 'ok') for d in nights], history
    assert all(n[SCORED] == 60 and n['model']['version'] == 1 for n in history), history
    local_prediction = _cli('predict', '--model', model, 'a wonderful film')
    assert predicted.stdout == local_prediction.stdout


# --- Dataflow, offline: a dry run with its paths on gs:// -----------------------------------

def _dry_run(*args: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """The job built for Dataflow and not submitted, with a gs:// temp location, as a user
    would check a command before paying for it."""
    return _cli(*args, '--runner=DataflowRunner', '--dry_run=True',
                '--project=imdb-sentiment-test', '--region=us-central1',
                f'--temp_location=gs://{BUCKET}/dataflow/tmp', '--setup_file=./setup.py', env=env)


def test_a_dataflow_dry_run_on_gs_compiles_and_leaves_the_bucket_and_checkout_as_they_were(
        gcs, reviews_csv, trained, tmp_path):
    emulator, root = gcs
    model = _upload_folder(trained['model'], f'{root}/dataflow/model')
    bucket, checkout = emulator.objects(BUCKET), sorted(os.listdir(ROOT))
    score = _dry_run('score', '--input', reviews_csv, '--model', model,
                     '--output', f'{root}/dataflow/score')
    assert score.returncode == 0, score.stderr[-3000:]
    assert 'Dry run: the job was compiled, not run' in score.stderr
    # tf.Transform writes its temporary files through TensorFlow's own GCS client while the
    # graph is built: that client reaches the emulator only through the test's proxy.
    with tf_gcs_proxy.Proxy(emulator.url, str(tmp_path)) as proxy:
        preprocess = _dry_run('preprocess', '--input', reviews_csv,
                              '--output', f'{root}/dataflow/preprocess', env=proxy.env())
    assert preprocess.returncode == 0, preprocess.stderr[-3000:]
    assert 'Dry run: the job was compiled, not run' in preprocess.stderr
    # Nothing published, staged or left behind: the bucket holds only the inputs, the
    # checkout no egg-info (the sdist is built in a copy).
    assert emulator.objects(BUCKET) == bucket
    assert sorted(os.listdir(ROOT)) == checkout
