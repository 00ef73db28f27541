"""``accuracy_levers compare``: every candidate from the saved logits, paired with the default.

Where the stages of ``accuracy_levers`` keep what they saved is ``paths``. The candidates are
fixed here, before any test figure is read; ``LEVERS`` are the ones the decision is about,
the other rows are references. A lever passes when its test
accuracy is above the default's with McNemar's exact p below 0.05 and a movie-clustered
bootstrap interval of the difference above 0 (and then only if it fits the time and memory
budget, which the README's table says).
"""

import csv
import glob
import json
import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from benchmarks.accuracy import baselines, is_test_movie, load

SEEDS = (42, 43, 44)
DEFAULT_SEED = 42  # ModelConfig.seed: the default run's LSTM
FOLDS = 10
ECE_BINS = 10      # as analysis.metrics' reliability bins (score reports)
BOOTSTRAP = 10000
LEVERS = ('refit_lstm', 'seeds_2', 'seeds_3', 'fusion_bagged', 'refit_seeds_2',
          'refit_seeds_3', 'all_levers_2', 'all_levers', 'plus_tfidf', 'plus_tfidf_seeds_3')


def paths(work: str) -> Dict[str, str]:
    """The default run's preprocess output and model under ``work``, and the folder the
    stages save their features and logits in (made if absent)."""
    levers = os.path.join(work, 'levers')
    os.makedirs(levers, exist_ok=True)
    return {'pre': os.path.join(work, 'preprocess'), 'model': os.path.join(work, 'model'),
            'levers': levers}


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def ece(labels: np.ndarray, probability: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error in equal-width bins, as the score reports compute it."""
    from analysis.metrics import calibration
    index = np.minimum((probability * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins).astype(float)
    sums = np.bincount(index, weights=probability, minlength=bins)
    positives = np.bincount(index, weights=labels, minlength=bins)
    return round(calibration(counts, sums, positives)['ece'], 4)


def _fusion(x: np.ndarray, labels: np.ndarray):
    """The fusion: a logistic regression on the branches' logits (columns of ``x``)."""
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression(C=1.0).fit(x, labels)


def _bagged(x: np.ndarray, labels: np.ndarray):
    """The fusion fitted on each of FOLDS folds' training part, its weights averaged, and the
    out-of-fold logits on eval (each review scored by the fold that did not fit on it)."""
    from sklearn.model_selection import StratifiedKFold
    coefs, intercepts, oof = [], [], np.zeros(len(labels))
    for fit, held in StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(x, labels):
        model = _fusion(x[fit], labels[fit])
        coefs.append(model.coef_.ravel())
        intercepts.append(model.intercept_[0])
        oof[held] = x[held] @ model.coef_.ravel() + model.intercept_[0]
    return np.mean(coefs, 0), float(np.mean(intercepts)), oof


def paired(default_right: np.ndarray, right: np.ndarray, movies: np.ndarray,
           rng: np.random.Generator) -> Dict:
    """Accuracy difference (candidate - default) with McNemar's exact test and a bootstrap
    interval that resamples movies (reviews of one movie are not independent)."""
    from scipy.stats import binomtest
    gained = int((right & ~default_right).sum())
    lost = int((default_right & ~right).sum())
    p = binomtest(gained, gained + lost, 0.5).pvalue if gained + lost else 1.0
    diff = right.astype(float) - default_right.astype(float)
    names, group = np.unique(movies, return_inverse=True)
    sums = np.bincount(group, weights=diff)
    sizes = np.bincount(group).astype(float)
    draws = rng.integers(0, len(names), size=(BOOTSTRAP, len(names)))
    boot = sums[draws].sum(1) / sizes[draws].sum(1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return {'difference_points': round(100 * float(diff.mean()), 3),
            'gained': gained, 'lost': lost, 'mcnemar_p': round(float(p), 4),
            'bootstrap_95_points': [round(100 * float(low), 3), round(100 * float(high), 3)]}


def _load(levers: str):
    common = dict(np.load(os.path.join(levers, 'common.npz')))
    extra = os.path.join(levers, 'extra.npz')
    if os.path.exists(extra):
        common.update(np.load(extra))
    lstm, refit, runs = {}, {}, {}
    for s in SEEDS:
        path = os.path.join(levers, f'lstm-seed{s}.npz')
        if os.path.exists(path):
            lstm[s] = dict(np.load(path))
            runs[f'lstm_seed{s}'] = json.load(open(path[:-4] + '.json'))
        path = os.path.join(levers, f'refit-seed{s}.npz')
        if os.path.exists(path):
            refit[s] = dict(np.load(path))
            runs[f'refit_seed{s}'] = json.load(open(path[:-4] + '.json'))
    return common, lstm, refit, runs


def _candidates(common, lstm, refit) -> List[Dict]:
    """(name, what, deep logits on eval and test, n-gram logits on test, fusion mode)."""
    out = []

    def add(name, what, seeds: Sequence[int], refitted: bool, fusion='eval', wide='refit',
            third: bool = False):
        if not all(s in lstm for s in seeds) or (refitted and not all(s in refit for s in seeds)):
            return
        if third and 'tfidf_eval' not in common:
            return
        deep_eval = np.mean([lstm[s]['deep_eval'] for s in seeds], 0)
        deep_test = np.mean([(refit if refitted else lstm)[s]['deep_test'] for s in seeds], 0)
        eval_x = [deep_eval, common['wide_eval']]
        test_x = [deep_test, common['wide_test_refit' if wide == 'refit' else 'wide_test']]
        if third:
            eval_x.append(common['tfidf_eval'])
            test_x.append(common['tfidf_test_refit'])
        out.append({'name': name, 'what': what, 'seeds': list(seeds), 'lstm_refit': refitted,
                    'fusion': fusion, 'eval_x': np.stack(eval_x, 1),
                    'test_x': np.stack(test_x, 1)})

    d = DEFAULT_SEED
    add('default', 'today\'s default: LSTM seed 42, fusion fitted on eval, n-grams refitted',
        [d], False)
    add('refit_lstm', '(1) the LSTM refitted on train + eval for its chosen epochs; fusion '
        'weights kept from the eval fit', [d], True)
    add('seeds_2', '(2) LSTM logits of seeds 42, 43 averaged; fusion fitted on eval', [d, 43],
        False)
    add('seeds_3', '(2) LSTM logits of seeds 42, 43, 44 averaged', [d, 43, 44], False)
    add('fusion_bagged', f'(3) the fusion fitted out of fold: {FOLDS} fold fits on eval, '
        'weights averaged', [d], False, fusion='bagged')
    add('refit_seeds_2', '(1)+(2) seeds 42, 43, each refitted on train + eval', [d, 43], True)
    add('refit_seeds_3', '(1)+(2) seeds 42, 43, 44, each refitted on train + eval',
        [d, 43, 44], True)
    add('all_levers', '(1)+(2)+(3) three refitted seeds, the fusion out of fold',
        [d, 43, 44], True, fusion='bagged')
    add('all_levers_2', '(1)+(2)+(3) with two seeds: seeds 42, 43 refitted, the fusion out of '
        'fold', [d, 43], True, fusion='bagged')
    for s in (43, 44):
        add(f'seed_{s}', f'reference: the default recipe with seed {s} (seed variance)', [s],
            False)
    add('plus_tfidf', 'other (Mesnil et al. 2014: more, and more diverse, models in the '
        'fusion): a third logit, logistic regression on idf-weighted, L2-normalised binary '
        '1-3-grams (the same n-gram ids), refitted on train + eval like NB-LR', [d], False,
        third=True)
    add('plus_tfidf_seeds_3', 'other + (2): three LSTM seeds and the third logit', [d, 43, 44],
        False, third=True)
    add('no_ngram_refit', 'reference: the default without --refit-ngrams', [d], False,
        wide='train')
    return out


def compare(args) -> Dict:
    """Every candidate's test figures and its paired difference from the default -> the
    result (without its header)."""
    from sklearn.metrics import roc_auc_score
    levers = paths(args.work)['levers']
    common, lstm, refit, runs = _load(levers)
    y, ye, movies = common['test_y'], common['eval_y'], common['test_movie']
    rng = np.random.default_rng(24)
    rows, default_right = [], None
    for c in _candidates(common, lstm, refit):
        model = _fusion(c['eval_x'], ye)
        coef, intercept = model.coef_.ravel(), float(model.intercept_[0])
        bag_coef, bag_intercept, oof = _bagged(c['eval_x'], ye)
        if c['fusion'] == 'bagged':
            coef, intercept = bag_coef, bag_intercept
        logit = c['test_x'] @ coef + intercept
        probability = _sigmoid(logit)
        right = (logit > 0) == (y == 1)
        row = {k: c[k] for k in ('name', 'what', 'seeds', 'lstm_refit', 'fusion')}
        row.update(coefficients=[round(float(v), 4) for v in coef],
                   intercept=round(intercept, 4),
                   test={'accuracy': round(float(right.mean()), 4),
                         'roc_auc': round(float(roc_auc_score(y, logit)), 4),
                         'ece': ece(y, probability), 'n': int(len(y))},
                   lstm_alone_test=round(float(((c['test_x'][:, 0] > 0) == (y == 1)).mean()),
                                         4))
        if not c['lstm_refit']:
            # The eval reviews are out of sample for both branches; only the fusion saw them.
            row['eval_out_of_fold'] = {'accuracy': round(float(((oof > 0) == (ye == 1)).mean()),
                                                         4),
                                       'ece': ece(ye, _sigmoid(oof)), 'folds': FOLDS}
        if c['name'] == 'default':
            default_right = right
            # The product's own answer (the export on raw text) against this reconstruction.
            export = common['export_probability']
            row['export_check'] = {
                'max_abs_difference': float(np.abs(probability - export).max()),
                'labels_differing': int(((probability > 0.5) != (export > 0.5)).sum()),
                'export_accuracy': round(float(((export > 0.5) == (y == 1)).mean()), 4)}
        else:
            row['vs_default'] = paired(default_right, right, movies, rng)
        rows.append(row)
        print(json.dumps({k: row.get(k) for k in ('name', 'test', 'vs_default')}), flush=True)
    rows += _references(common, default_right, movies, rng, args)
    decide(rows)
    return {'work': args.work, 'folds': FOLDS, 'bootstrap': BOOTSTRAP, 'ece_bins': ECE_BINS,
            'candidates': rows, 'runs': runs, 'default_run': _default_run(args)}


def _references(common, default_right, movies, rng, args) -> List[Dict]:
    """The n-gram branch alone (refitted) and scikit-learn's NB-LR on the same reviews."""
    y = common['test_y']
    rows = []
    logit = common['wide_test_refit']
    right = (logit > 0) == (y == 1)
    rows.append({'name': 'ngram_branch_alone', 'what': 'reference: the network\'s n-gram '
                 'regression alone, fitted on train + eval', 'test': {
                     'accuracy': round(float(right.mean()), 4), 'ece': ece(y, _sigmoid(logit))},
                 'vs_default': paired(default_right, right, movies, rng)})
    pre = paths(args.work)['pre']
    eval_ids = set()
    for path in glob.glob(os.path.join(pre, 'eval_reviews', '*.csv')):
        with open(path, newline='', encoding='utf-8') as f:
            eval_ids.update(r['id'] for r in csv.DictReader(f))
    rows_all = load(args.data_dir)
    test = [r for r in rows_all if is_test_movie(r[3])]
    rest = [r for r in rows_all if not is_test_movie(r[3])]
    scores = {}
    baselines([r for r in rest if r[0] not in eval_ids], [r for r in rest if r[0] in eval_ids],
              test, scores=scores, only=('nb_lr',))
    for name in ('nb_lr', 'nb_lr_train_eval'):
        probability = scores[name]
        right = (probability > 0.5) == (y == 1)
        rows.append({'name': f'sklearn_{name}', 'what': 'reference: scikit-learn NB-LR (binary '
                     '1-3-grams, min_df 2, C by eval), fitted on ' +
                     ('train + eval' if name.endswith('eval') else 'train'),
                     'test': {'accuracy': round(float(right.mean()), 4),
                              'ece': ece(y, probability)},
                     'vs_default': paired(default_right, right, movies, rng)})
    return rows


def decide(rows: List[Dict]) -> None:
    """Marks each lever: passes when better than the default at 5% by both tests; the
    Holm-adjusted p over the levers is given beside the raw one."""
    levers = [r for r in rows if r['name'] in LEVERS]
    ordered = sorted(levers, key=lambda r: r['vs_default']['mcnemar_p'])
    running = 0.0
    for i, r in enumerate(ordered):
        running = max(running, min(1.0, (len(ordered) - i) * r['vs_default']['mcnemar_p']))
        r['vs_default']['holm_p'] = round(running, 4)
    for r in levers:
        v = r['vs_default']
        r['significant_gain'] = bool(v['difference_points'] > 0 and v['mcnemar_p'] < 0.05
                                     and v['bootstrap_95_points'][0] > 0)


def _default_run(args) -> Optional[Dict]:
    path = args.baseline or os.path.join(os.path.dirname(args.work.rstrip('/')),
                                         'accuracy-default.json')
    if not os.path.exists(path):
        return None
    run = json.load(open(path))
    return {'path': path, 'train': run.get('train'), 'lstm': run.get('lstm'),
            'baselines': run.get('baselines'), 'split': run.get('split')}
