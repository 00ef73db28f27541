"""`imdb-sentiment run`: the whole chain from a downloaded archive to index.html."""

import functools
import http.server
import os
import shutil
import tarfile
import threading

import pytest

from tests.support.read import read_json, read_jsonl
from pipeline import cli
from tests.support.processes import TINY_MODEL
from tests.support.datasets import generated_reviews, write_aclimdb, write_csv

pytestmark = pytest.mark.e2e


@pytest.fixture
def archive_server(tmp_path):
    """A tiny aclImdb_v1.tar.gz served on 127.0.0.1; yields its URL and a request log."""
    root = tmp_path / 'src'
    write_aclimdb(str(root / 'aclImdb'), 'train', generated_reviews(160, seed=21))
    write_aclimdb(str(root / 'aclImdb'), 'test', generated_reviews(40, seed=22))
    unsup = root / 'aclImdb' / 'train' / 'unsup'
    unsup.mkdir()
    for i, (text, _) in enumerate(generated_reviews(30, seed=24)):
        (unsup / f'{i}_0.txt').write_text(text)
    served = tmp_path / 'served'
    served.mkdir()
    with tarfile.open(served / 'aclImdb_v1.tar.gz', 'w:gz') as tar:
        tar.add(root / 'aclImdb', arcname='aclImdb')
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(Handler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{server.server_port}/aclImdb_v1.tar.gz', requests
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_run_downloads_trains_scores_and_links_every_report(archive_server, tmp_path):
    url, requests = archive_server
    out, cache = str(tmp_path / 'run'), str(tmp_path / 'cache')
    extra = write_csv(str(tmp_path / 'nightly.csv'), [(t,) for t, _ in generated_reviews(12, 23)],
                      header=('review',))
    code = cli.main(['run', '--output', out, '--cache-dir', cache, '--url', url,
                     '--score-input', extra, '--epochs', '1',
                     '--train-flags', ' '.join([*TINY_MODEL, '--embedding-init', 'ppmi_svd']),
                     '--preprocess-flags', '--max-tokens 32'])
    assert code == 0
    assert requests and all(r.endswith('aclImdb_v1.tar.gz') for r in requests)
    assert os.path.isdir(os.path.join(cache, 'aclImdb', 'test', 'pos'))

    manifest = read_json(os.path.join(out, 'manifest.json'))
    assert manifest['status'] == 'ok'
    assert [s['step'] for s in manifest['steps']] == [
        'explore', 'preprocess', 'train', 'score eval', 'score aclImdb-test', 'score nightly']
    assert all(s['exit_code'] == 0 for s in manifest['steps'])
    assert manifest['inputs'] == [os.path.join(cache, 'aclImdb', 'train')]

    # Trained on train/ (160 reviews), scored on test/ (40) and the extra unlabelled file.
    pre = read_json(os.path.join(out, 'preprocess', 'manifest.json'))
    assert pre['counts']['read'] == 160
    assert pre['counts']['unlabeled'] == 30  # train/unsup/, for the word vectors
    model = read_json(os.path.join(out, 'model', 'manifest.json'))
    assert model['word_vectors']['reviews'] == pre['counts']['train'] + 30
    test_metrics = read_json(os.path.join(out, 'score', 'aclImdb-test', 'metrics.json'))
    folder = os.path.join(out, 'score', 'aclImdb-test', 'predictions')
    preds = read_jsonl(os.path.join(folder, '*.jsonl'))
    assert test_metrics['scored'] == 40 == len(preds)
    assert test_metrics['accuracy'] == pytest.approx(
        sum(p['predicted'] == p['label'] for p in preds) / len(preds))
    eval_metrics = read_json(os.path.join(out, 'score', 'eval', 'metrics.json'))
    assert eval_metrics['scored'] == pre['counts']['eval']
    nightly = read_json(os.path.join(out, 'score', 'nightly', 'metrics.json'))
    assert nightly['scored'] == 12 and 'accuracy' not in nightly

    html = open(os.path.join(out, 'index.html'), encoding='utf-8').read()
    fusion = model['stacking']['fusion']
    assert f"the LSTM alone reads {fusion['lstm_accuracy']:.4f}" in html
    for link in ('explore/report.html', 'score/eval/report.html',
                 'score/aclImdb-test/report.html', 'score/nightly/report.html'):
        assert f'href="{link}"' in html and os.path.exists(os.path.join(out, link))


FLIP = {'positive': 'negative', 'negative': 'positive'}


def _run_into(models: str, data: str, out: str) -> int:
    return cli.main(['run', '--input', data, '--output', out, '--models', models,
                     '--no-explore', '--epochs', '1', '--test-fraction', '0.3',
                     '--train-flags', ' '.join(TINY_MODEL), '--preprocess-flags', '--max-tokens 32',
                     '--evaluate-flags', '--min-reviews 50 --min-accuracy 0.6'])


@pytest.fixture(scope='module')
def first_run(tmp_path_factory):
    """One `run --models` into an empty registry: its model is version 1, blessed on its
    test split and promoted, and that split pinned as the gate set. The tests below each go on
    from a copy of its registry."""
    root = tmp_path_factory.mktemp('first_run')
    rows = generated_reviews(400, seed=11)
    (root / 'good').mkdir()
    good = write_csv(str(root / 'good' / 'reviews.csv'), rows)
    models, out = str(root / 'models'), str(root / 'first')
    code = _run_into(models, good, out)
    return {'code': code, 'rows': rows, 'csv': good, 'models': models, 'out': out}


def _registry_copy(first_run, tmp_path) -> str:
    models = str(tmp_path / 'models')
    shutil.copytree(first_run['models'], models)
    return models


def test_run_models_gates_promotes_and_pins_the_gate_set(first_run):
    models, out = first_run['models'], first_run['out']
    assert first_run['code'] == 0
    steps = read_json(os.path.join(out, 'manifest.json'))['steps']
    assert [s['step'] for s in steps][:4] == ['preprocess', 'train', 'evaluate', 'promote']
    assert all(s['exit_code'] == 0 for s in steps)
    assert os.path.isfile(os.path.join(models, '1', 'saved_model.pb'))
    assert read_json(os.path.join(models, 'champion.json'))['version'] == 1
    pinned = read_json(os.path.join(models, 'gate_set', 'manifest.json'))
    tested = read_json(os.path.join(out, 'preprocess', 'manifest.json'))
    assert pinned['count'] == tested['counts']['test'] >= 50
    html = open(os.path.join(out, 'index.html'), encoding='utf-8').read()
    assert 'id="gate"' in html and 'Blessed and promoted' in html


def test_run_models_uses_the_version_it_published_when_another_came_first(
        first_run, tmp_path, monkeypatch):
    """Case 6: run picked its number before preprocess and wrote it at the end, over a
    version that `train --registry` had published meanwhile. Now the number is taken when
    the run's model is published: the other writer's version survives, and the run's
    evaluate, promote and score steps use the run's own version."""
    from pipeline import new_version, registry
    from pipeline.runtime.publish import StagedOutput
    models, out = _registry_copy(first_run, tmp_path), str(tmp_path / 'run')
    real = new_version.publish_version

    def another_writer_first(path: str, staged: StagedOutput) -> str:
        with new_version.stage_version(path) as other:
            shutil.copytree(registry.version_path(models, 1), other.path, dirs_exist_ok=True)
            assert real(path, other) == registry.version_path(models, 2)
        return real(path, staged)

    monkeypatch.setattr(new_version, 'publish_version', another_writer_first)
    other = registry.content_sha256(models, 1)  # version 2 is a copy of version 1
    code = _run_into(models, first_run['csv'], str(tmp_path / 'run'))
    assert code in (0, 4)
    assert registry.versions(models) == [1, 2, 3]
    assert registry.content_sha256(models, 2) == other
    mine = os.path.join(models, '3')
    steps = read_json(os.path.join(out, 'manifest.json'))['steps']
    commands = {s['step']: s['command'] for s in steps}
    assert f'--candidate {mine} ' in commands['evaluate'] + ' '
    assert commands['promote'].split()[3:5] == [models, '3']
    assert all(f'--model {mine} ' in commands[s] + ' ' for s in commands if s.startswith('score'))
    verdict = read_json(os.path.join(out, 'evaluate', 'verdict.json'))
    assert verdict['candidate']['version'] == 3
    assert registry.verdict(models, 3)['sha256'] == registry.content_sha256(models, 3)
    assert registry.champion(models)['version'] == (3 if verdict['blessed'] else 1)


def test_run_models_never_promotes_a_model_of_a_file_with_flipped_labels(
        first_run, tmp_path, capsys):
    """The same file again into the registry, with every label flipped. The first run's test
    split is the gate set; the second model is judged on it (its own flipped test split would
    bless it), and the champion's disagreement with the new labels marks the file suspect:
    exit 3, nothing promoted."""
    models = _registry_copy(first_run, tmp_path)
    (tmp_path / 'bad').mkdir()
    bad = write_csv(str(tmp_path / 'bad' / 'reviews.csv'),
                    [(t, FLIP[label]) for t, label in first_run['rows']])
    capsys.readouterr()
    assert _run_into(models, bad, str(tmp_path / 'second')) == 3
    err = capsys.readouterr().err
    assert 'suspect data: --data ' in err and 'are its labels flipped, or the wrong column?' in err
    verdict = read_json(os.path.join(tmp_path, 'second', 'evaluate', 'verdict.json'))
    assert verdict['suspect'] and not verdict['blessed']
    assert verdict['judged_on'] == f'the gate set of {models}'
    assert verdict['new_data']['baseline'] < 0.3 < 0.7 < verdict['new_data']['gate_set']
    assert read_json(os.path.join(models, 'champion.json'))['version'] == 1
    assert read_json(os.path.join(models, 'blessings', '2.json'))['blessed'] is False
    steps = read_json(os.path.join(tmp_path, 'second', 'manifest.json'))['steps']
    assert [(s['step'], s['exit_code']) for s in steps][2:4] == [('evaluate', 3),
                                                                 ('promote', None)]


def test_run_models_never_judges_on_the_eval_split_the_model_was_fitted_on(tmp_path, capsys):
    """--test-fraction 0 holds nothing out: with no gate set there is nothing to judge on
    (exit 2, before any step); with one, the gate set alone, never the eval split."""
    from pipeline import flags, gate_set
    from pipeline.jobs import run as run_job
    data = write_csv(str(tmp_path / 'reviews.csv'), generated_reviews(40, seed=3))
    models = str(tmp_path / 'models')
    argv = ['run', '--input', data, '--output', str(tmp_path / 'out'), '--models', models,
            '--test-fraction', '0']
    assert cli.main(argv) == 2
    assert 'nothing to judge the new model on' in capsys.readouterr().err
    assert not os.path.exists(os.path.join(models, '1'))
    os.makedirs(models)
    gate_set.pin(models, [write_csv(str(tmp_path / 'trusted.csv'), generated_reviews(20, 4))],
                 'trusted')
    args, beam_args = flags.parse('run', argv[1:])
    args.test_fraction = 0.0
    evaluate = [s for s in run_job._steps(args, beam_args) if s.name == 'evaluate'][0]
    assert '--data' not in evaluate.argv


def test_run_models_on_a_file_is_refused_before_any_step(tmp_path, capsys):
    """Case 16: it ran preprocess for half a minute before train refused the file."""
    data = write_csv(str(tmp_path / 'reviews.csv'), generated_reviews(20, seed=5))
    models = tmp_path / 'models.txt'
    models.write_text('not a registry')
    assert cli.main(['run', '--input', data, '--output', str(tmp_path / 'out'),
                     '--models', str(models)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and 'a file, not a model registry' in err
    assert not (tmp_path / 'out').exists() and models.read_text() == 'not a registry'


def test_run_into_object_storage_is_refused_before_any_step(tmp_path, monkeypatch, capsys):
    """run writes its folder with local files: a gs:// --output would have become a local
    folder named 'gs:' in the working folder."""
    monkeypatch.chdir(tmp_path)
    data = write_csv(str(tmp_path / 'reviews.csv'), generated_reviews(20, seed=5))
    assert cli.main(['run', '--input', data, '--output', 'gs://bucket/runs/latest']) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and 'on a local disk' in err, err
    assert os.listdir(tmp_path) == ['reviews.csv']
