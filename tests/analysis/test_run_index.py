"""The run folder's index page: its headline is never a training fit."""

from transforms import schema


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
