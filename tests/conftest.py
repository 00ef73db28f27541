import os

import pytest

# Keep TensorFlow's C++ start-up messages out of test output.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

TINY_MODEL = ['--embedding-dim', '8', '--lstm-units', '8', '--dense-units', '8',
              '--batch-size', '16']


@pytest.fixture(scope='session')
def trained(tmp_path_factory):
    """A real preprocess + one-epoch train on 240 generated reviews (about 20 s).

    Shared by the whole session: tests read these folders and write only into copies.
    """
    from pipeline import cli
    from tests.fixtures import generated_reviews, write_csv
    root = tmp_path_factory.mktemp('trained')
    rows = generated_reviews(240, seed=1)
    data = write_csv(str(root / 'reviews.csv'), rows)
    pre, model = str(root / 'preprocess'), str(root / 'model')
    assert cli.main(['preprocess', '--input', data, '--output', pre, '--max-tokens', '32']) == 0
    assert cli.main(['train', '--data', pre, '--output', model, '--epochs', '1', *TINY_MODEL]) == 0
    return {'csv': data, 'rows': rows, 'preprocess': pre, 'model': model}


# Modules whose tests run whole jobs (a pipeline, a training run, a browser, Airflow) and so
# belong to the end-to-end set; so does any test that needs the trained model. The fast loop
# is `pytest -m "not e2e"`.
E2E_MODULES = {'test_preprocess_job', 'test_explore', 'test_score_job', 'test_run',
               'test_nightly', 'test_trainer', 'test_runners', 'test_airflow_dag',
               'test_score_ratings', 'test_cluster'}
BROWSER_TESTS = ('browser', 'chromium')


def pytest_collection_modifyitems(items):
    for item in items:
        module = item.module.__name__.rsplit('.', 1)[-1]
        if module in E2E_MODULES or 'trained' in item.fixturenames:
            item.add_marker(pytest.mark.e2e)
        if module == 'test_airflow_dag':
            item.add_marker(pytest.mark.airflow)
        if any(word in item.name for word in BROWSER_TESTS):
            item.add_marker(pytest.mark.browser)
