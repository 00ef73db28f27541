"""The gate's report page, rendered from made-up comparisons: a model that is not a registry
version, and what every verdict states."""

from analysis.gate_report import render_gate_report


def _metrics(accuracy):
    return {'accuracy': accuracy, 'roc_auc': 0.9, 'calibration': {'ece': 0.02},
            'labelled': 300}


def test_a_plain_export_on_either_side_renders_and_the_page_states_what_it_can_detect():
    model = {'path': '/exports/model', 'created': '2026-11-01T00:00:00+00:00'}  # no version
    comparison = {'candidate': {'model': model, 'metrics': _metrics(0.9)},
                  'baseline': {'model': dict(model, path='/exports/old'),
                               'metrics': _metrics(0.88)},
                  'headline': [{'measure': 'accuracy', 'candidate': 0.9, 'baseline': 0.88,
                                'delta': 0.02}], 'slices': [], 'paired_test': None}
    verdict = {'blessed': True, 'checks': [], 'thresholds': {}, 'reviews': 300,
               'min_detectable_difference': 0.08, 'judged_on': '--data (no gate set pinned)',
               'gate_set': None, 'no_baseline': None, 'new_data': None, 'suspect': False}
    manifest = {'created': 'now', 'counts': {'scored': 300, 'rejected': 0},
                'inputs': [{'path': 'held_out.csv'}]}
    page = render_gate_report(comparison, verdict, manifest)
    assert '<code>/exports/model</code>' in page and '(version' not in page
    assert 'on 300 labelled reviews of --data (no gate set pinned)' in page
    assert 'at 95% confidence: 0.0800' in page
    suspect = dict(verdict, blessed=False, suspect=True, new_data={
        'reviews': 24, 'candidate': 0.9, 'baseline': 0.1, 'detail': 'the champion agrees'})
    assert '<b>Suspect data</b>' in render_gate_report(comparison, suspect, manifest)
