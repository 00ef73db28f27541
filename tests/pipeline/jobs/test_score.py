"""The score job: the RunInference handler, metrics, dead letters, the report."""

import os

import numpy as np
import pytest
from sklearn import metrics as sk

from pipeline import cli
from pipeline.jobs import score
from tests.support.datasets import generated_reviews, write_aclimdb, write_csv, write_titled_csv
from tests.support.read import read_json, read_jsonl
from transforms import features, schema
from transforms.beam.inference import ReviewModelHandler

pytestmark = pytest.mark.e2e

TITLE = features.TITLE.name   # a pass-through column that some CSV files have

HOSTILE = 'Awful. <script>document.title="pwned"</script> <img src=x onerror="alert(1)"> boring'


_rows = read_jsonl


def test_handler_scores_raw_text_like_the_export(trained):
    from transforms.beam.inference import Classifier
    handler = ReviewModelHandler(trained['model'], min_batch_size=2, max_batch_size=8)
    texts = ['A wonderful film', 'awful, boring']
    results = list(handler.run_inference(texts, handler.load_model()))
    expected, labels = Classifier(trained['model'])(texts)
    assert [r.example for r in results] == texts
    np.testing.assert_allclose([r.inference['probability'] for r in results], expected, atol=1e-6)
    assert [r.inference['label'] for r in results] == labels
    assert handler.batch_elements_kwargs() == {'min_batch_size': 2, 'max_batch_size': 8}


def test_a_review_scores_the_same_alone_and_beside_a_longer_one(trained):
    """The export cuts a batch's padding after its longest review (the score job sorts
    batches by length to use it): the network masks padding, so the width never changes
    a probability."""
    from transforms.beam.inference import Classifier
    model = Classifier(trained['model'])
    short, longer = 'A wonderful film', ' '.join(['a dull boring and awful film'] * 20)
    alone = model([short])[0]
    beside = model([short, longer])[0]
    np.testing.assert_allclose(beside[0], alone[0], atol=1e-6)
    np.testing.assert_allclose(model([longer])[0][0], beside[1], atol=1e-6)


def test_explanations_reuse_the_scoring_model(trained):
    """One load of the export per process: the occlusion weights reuse RunInference's."""
    from analysis.explain import ExplainFn
    model = ReviewModelHandler(trained['model']).load_model()
    explain = ExplainFn(trained['model'], schema.REVIEW_KEY)
    explain.setup()
    assert explain._model is model


def test_explanations_of_a_list_in_batches_equal_one_review_at_a_time(trained):
    """The reported errors' variants go through the model together, in large batches, and
    only over the tokens the network reads: the same weights as one review at a time."""
    from analysis.explain import ExplainFn, occlusion_weights
    from transforms.beam.inference import load_classifier, score_texts
    rows = [{'review': text} for text, _ in generated_reviews(3, seed=4)]
    explain = ExplainFn(trained['model'], schema.REVIEW_KEY, max_words=5, batch_size=7)
    explain.setup()
    model = load_classifier(trained['model'])
    for row, out in zip(rows, explain.process(rows)):
        alone = occlusion_weights(row['review'], lambda t: score_texts(model, t), 5)
        shaded = [p for p in out['tokens'] if p['weight'] is not None]
        assert len(shaded) == 5 == len(alone)  # capped at the network's token length
        np.testing.assert_allclose([p['weight'] for p in shaded], [w['weight'] for w in alone],
                                   atol=1e-6)
        assert ''.join(p['text'] for p in out['tokens']) == row['review']


@pytest.fixture(scope='module')
def scored(trained, tmp_path_factory):
    root = tmp_path_factory.mktemp('score')
    rows = generated_reviews(80, seed=7) + [(HOSTILE, 'negative'), ('', 'positive'),
                                            ('fine', 'maybe')]
    labelled = write_csv(str(root / 'labelled.csv'), rows)
    folder = write_aclimdb(str(root / 'aclImdb'), 'test', generated_reviews(6, seed=8))
    os.makedirs(os.path.join(folder, 'unsup'))
    open(os.path.join(folder, 'unsup', '0_0.txt'), 'w').write('Not sure what to think.')
    out = str(root / 'out')
    code = cli.main(['score', '--input', labelled, '--input', folder, '--model', trained['model'],
                     '--output', out, '--max-reject-fraction', '0.1', '--top-k', '3',
                     '--min-batch-size', '4', '--max-batch-size', '16'])
    assert code == 0
    return out


def test_predictions_reconcile_and_carry_ids_labels_text(scored):
    manifest = read_json(os.path.join(scored, schema.MANIFEST_FILE))
    preds = _rows(os.path.join(scored, 'predictions', 'predictions-*.jsonl'))
    rejected = _rows(os.path.join(scored, 'rejected', '*.jsonl'))
    c = manifest['counts']
    assert c['read'] == 83 + 6 + 1 == c['predicted'] + c['rejected']
    assert len(preds) == c['predicted'] and len(rejected) == c['rejected'] == 2
    assert {r['reason'] for r in rejected} == {'empty_review', 'unknown_label'}
    by_id = {p['id']: p for p in preds}
    assert by_id['test/unsup/0_0.txt'].get('label') is None
    assert by_id['test/pos/0_8.txt']['label'] == 'positive' and by_id['test/pos/0_8.txt']['rating'] == 8
    for p in preds:
        assert (p['predicted'] == 'positive') == (p['probability'] > 0.5) and p['review']


def test_metrics_agree_with_sklearn_on_the_predictions(scored):
    m = read_json(os.path.join(scored, schema.METRICS_FILE))
    preds = [p for p in _rows(os.path.join(scored, 'predictions', '*.jsonl')) if 'label' in p]
    y = [p['label'] == 'positive' for p in preds]
    prob = [p['probability'] for p in preds]
    pred = [p['predicted'] == 'positive' for p in preds]
    assert m['accuracy'] == pytest.approx(sk.accuracy_score(y, pred))
    assert m['confusion_matrix'] == sk.confusion_matrix(y, pred).tolist()
    assert m['log_loss'] == pytest.approx(sk.log_loss(y, prob))
    assert m['roc_auc'] == pytest.approx(sk.roc_auc_score(y, prob), abs=0.01)
    assert m['scored'] == len(preds) + 1 and m['labelled'] == len(preds)


def test_top_errors_are_the_most_confident_and_explained(scored):
    preds = _rows(os.path.join(scored, 'predictions', '*.jsonl'))
    fp = sorted((p for p in preds if p.get('label') == 'negative' and p['predicted'] == 'positive'),
                key=lambda p: -p['probability'])[:3]
    fn = sorted((p for p in preds if p.get('label') == 'positive' and p['predicted'] == 'negative'),
                key=lambda p: p['probability'])[:3]
    html = open(os.path.join(scored, schema.REPORT_FILE), encoding='utf-8').read()
    for p in fp + fn:
        assert p['id'] in html
    # Occlusion shading: each shown word is a span titled with its weight.
    assert ('<span title="' in html) == bool(fp or fn)


def test_report_escapes_review_text(scored):
    html = open(os.path.join(scored, schema.REPORT_FILE), encoding='utf-8').read()
    assert '<script>' not in html and 'onerror="alert' not in html
    assert 'id="metrics"' in html and 'data:image/png;base64,' in html


def test_failing_batch_goes_to_dead_letters(trained, tmp_path, monkeypatch):
    class Exploding(ReviewModelHandler):
        def run_inference(self, batch, model, inference_args=None):
            if any('EXPLODE' in t for t in batch):
                raise ValueError('model failed on this batch')
            return super().run_inference(batch, model, inference_args)

    monkeypatch.setattr(score, 'ReviewModelHandler', Exploding)
    rows = [('EXPLODE here', 'positive')] + generated_reviews(10, seed=3)
    path = write_csv(str(tmp_path / 'r.csv'), rows)
    out = str(tmp_path / 'o')
    assert score.run(['--input', path, '--model', trained['model'], '--output', out,
                      '--max-batch-size', '1', '--min-batch-size', '1', '--no-explain',
                      '--max-reject-fraction', '0.5']) == 0
    manifest = read_json(os.path.join(out, schema.MANIFEST_FILE))
    assert manifest['counts']['rejected_by_reason']['inference_failed'] == 1
    assert manifest['counts']['predicted'] == 10
    dead = _rows(os.path.join(out, 'rejected', '*.jsonl'))
    assert dead[0]['id'] == 'r.csv:1' and 'model failed' in dead[0]['detail']
    assert dead[0]['raw'] == 'EXPLODE here'


def test_unlabelled_input_reports_no_accuracy(trained, tmp_path):
    path = write_csv(str(tmp_path / 'u.csv'), [(t,) for t, _ in generated_reviews(12)],
                     header=('review',))
    out = str(tmp_path / 'o')
    assert cli.main(['score', '--input', path, '--model', trained['model'], '--output', out,
                     '--no-include-text']) == 0
    m = read_json(os.path.join(out, schema.METRICS_FILE))
    preds = _rows(os.path.join(out, 'predictions', '*.jsonl'))
    assert 'accuracy' not in m and m['scored'] == 12 == len(preds)
    assert m['positive_rate'] == sum(p['predicted'] == 'positive' for p in preds) / 12
    html = open(os.path.join(out, schema.REPORT_FILE), encoding='utf-8').read()
    assert 'id="unlabelled-note"' in html and 'classification-report' not in html
    assert all('review' not in p for p in _rows(os.path.join(out, 'predictions', '*.jsonl')))


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    path = write_csv(str(tmp_path / 'r.csv'), generated_reviews(2))
    code = cli.main(['score', '--input', path, '--model', str(tmp_path), '--output', str(tmp_path / 'o')])
    assert code == cli.EXIT_USAGE and 'no saved_model.pb' in capsys.readouterr().err


def test_score_writes_the_title_beside_the_prediction_and_never_scores_it(trained, tmp_path):
    rows = generated_reviews(12, seed=3)
    titled = write_titled_csv(str(tmp_path / 'titled.csv'), rows)
    plain = write_csv(str(tmp_path / 'plain.csv'), rows)  # the same reviews, no title column
    out = str(tmp_path / 'score')
    assert cli.main(['score', '--input', titled, '--input', plain, '--model', trained['model'],
                     '--output', out]) == 0
    predictions = read_jsonl(os.path.join(out, schema.PREDICTIONS_DIR, '*.jsonl'))
    by_id = {p['id']: p for p in predictions}
    assert len(by_id) == 2 * len(rows)
    for i in range(len(rows)):
        with_title, without = by_id[f'titled.csv:{i + 1}'], by_id[f'plain.csv:{i + 1}']
        assert with_title[TITLE] == f'Title {i}' and TITLE not in without
        assert with_title['probability'] == pytest.approx(without['probability'], abs=1e-6)
