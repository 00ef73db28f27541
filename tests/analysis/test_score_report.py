"""The score report's details: folding a long review, and the line that says what the metrics were
measured on."""

from analysis.score_report import fold, measured_on
from transforms import schema


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
