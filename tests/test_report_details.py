"""Score-report details: occlusion over the model's own tokens, folding, provenance lines."""

import json
import os

import pytest

from analysis.explain import occlusion_weights, segments, token_spans
from analysis.render import lines, number
from analysis.score_report import fold, measured_on
from pipeline.jobs.run_folder import SCORE_DIR, index_link
from transforms import schema
from transforms.tft.cleaning import CleaningConfig

HOSTILE = [
    'Great film!<br /><br />While the plot was "thin", I didn\'t care... 10/10?',
    "It's <i>the</i> worst -- truly_awful, 'quoted' rock'n'roll and CAPS!!",
    'Ünïcödé wörds, numbers 1999 and a verylongwordwithoutanybreakwhatsoever<br/>end',
    "Stray ' apostrophes '' and a''b plus ’curly’ quotes",
]


@pytest.mark.parametrize('text', HOSTILE)
def test_token_spans_are_the_models_tokens(text):
    import tensorflow as tf
    from transforms.tft.cleaning import tokenize
    model = [t.decode() for t in tokenize(tf.constant([text]), CleaningConfig()).to_list()[0]]
    assert [text[s:e].lower() for s, e in token_spans(text, 400)] == model


def test_no_shaded_piece_carries_a_tag():
    text = HOSTILE[0]
    weights = occlusion_weights(text, lambda variants: [0.5] * len(variants))
    shaded = [p['text'] for p in segments(text, weights) if p['weight'] is not None]
    assert shaded[:4] == ['Great', 'film', '!', 'While']
    assert not any('<' in p or '>' in p or '/' in p for p in shaded)


def test_line_breaks_and_numbers():
    assert lines('one<br />two<BR>three<br/>') == ['one', 'two', 'three', '']
    assert number(25000) == '25,000' and number(25000.0) == '25,000'
    assert number(0.12345, 3) == '0.123' and number(None) == ''


def test_a_long_review_folds_at_a_space_and_never_inside_a_tag():
    text = ('word ' * 150) + '<br />tail ' * 50
    head, tail = fold([{'text': text, 'weight': None}], limit=751)  # inside the first <br />
    assert ''.join(p['text'] for p in head + tail) == text
    assert head[-1]['text'].endswith('<br />')
    short = [{'text': 'short', 'weight': 0.1}]
    assert fold(short) == (short, [])


def test_measured_on_says_which_split():
    def manifest(path):
        return {'counts': {'predicted': 25000}, 'options': {'input': [path]}}
    test = measured_on(manifest(f'run/preprocess/{schema.TEST_REVIEWS_DIR}/test-*.csv'))
    assert test.startswith('the test split of preprocess, 25,000 reviews, never used')
    assert 'optimistic' in measured_on(
        manifest(f'run/preprocess/{schema.EVAL_REVIEWS_DIR}/eval-*.csv'))
    assert 'new.csv' in measured_on(manifest('data/new.csv'))
    # A model refitted on its eval split: that split's report is a training fit.
    refitted = dict(manifest(f'run/preprocess/{schema.EVAL_REVIEWS_DIR}/eval-*.csv'),
                    model={'eval_fit': {'accuracy': 0.9976}})
    line = measured_on(refitted)
    assert 'a training fit, not a measure of accuracy' in line
    assert 'optimistic' not in line and 'validation' not in line.lower()


def test_run_index_never_heads_with_a_training_fit():
    from analysis.run_index import render_index
    from pipeline.jobs.run_folder import EVAL_FIT
    eval_row = {'name': schema.EVAL_PREFIX, 'report': None, 'scored': 4114, 'accuracy': 0.9976,
                'roc_auc': 0.9999, 'positive_rate': 0.5, 'measured': EVAL_FIT, 'inputs': 'e',
                'training_fit': True}
    model = {'validation': {}, 'eval_fit': True, 'fusion': None, 'curves_of': 'model',
             'best_epoch': 1, 'epochs_run': 3, 'plots': [], 'manifest': None,
             'headline': {'accuracy': 0.9118, 'measured_on': 'the eval split, the fusion '
                                                            'cross-validated (5 folds)'}}
    run = {'created': 'now', 'wall_time_s': 1, 'status': 'ok', 'steps': []}
    page = render_index(run, {'explore': None, 'preprocess': None, 'model': model,
                              'scores': [eval_row]})
    headline = page.split('id="headline">')[1].split('</p>')[0]
    assert '0.9118' in headline and 'cross-validated' in headline and '0.9976' not in headline
    assert '0.9976 (training fit)' in page
    # With a test split scored, the test split is the headline.
    test_row = dict(eval_row, name=schema.TEST_PREFIX, accuracy=0.9148, training_fit=False)
    page = render_index(run, {'explore': None, 'preprocess': None, 'model': model,
                              'scores': [test_row, eval_row]})
    assert '0.9148' in page.split('id="headline">')[1].split('</p>')[0]


def test_run_index_link_only_inside_a_run_folder(tmp_path):
    output = tmp_path / 'run' / SCORE_DIR / 'test'
    assert index_link(str(output)) is None
    os.makedirs(output)
    (tmp_path / 'run' / schema.MANIFEST_FILE).write_text(json.dumps({'job': 'run'}))
    assert index_link(str(output)) == '../../index.html'
    assert index_link(str(tmp_path / 'elsewhere')) is None
