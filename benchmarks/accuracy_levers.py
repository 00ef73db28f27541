"""Does any lever (LSTM refit, more seeds, an out-of-fold fusion, a third logit) beat the default?

The levers against the default recipe, paired on the same movie-disjoint test reviews. Each
component is fitted once, in its own process, and its logits saved; every candidate is then a
combination of saved logits, compared with the default review by review.

  W=/tmp/acc24/work
  python -m benchmarks accuracy --work $W --out /tmp/acc24/accuracy-default.json \\
      --preprocess-arg=--unlabeled=../shared/data/imdb/unsup.csv    # preprocess + the default
  python -m benchmarks accuracy_levers prepare --work $W      # test features, n-gram logits
  python -m benchmarks accuracy_levers seed --work $W --seed 43     # another LSTM (and 44)
  python -m benchmarks accuracy_levers salvage --work $W --seed 43  # a seed fit cut short
  python -m benchmarks accuracy_levers refit --work $W --seed 42    # LSTM on train + eval
  python -m benchmarks accuracy_levers extra --work $W        # a third linear model
  python -m benchmarks accuracy_levers compare --work $W      # -> results/accuracy-levers.json

- ``prepare``: the test part's features through the preprocess transform graph (as the export
  computes them), the export's own test probabilities (the product's answer, to check the
  reconstruction against), the n-gram regression (NB-LR) fitted on train and on train + eval,
  and the default model's LSTM logits (seed 42: the default run's weights, not a new fit).
- ``seed``: the default recipe's LSTM with another seed (its initialisation and shuffles), on
  the train split and the pseudo-labelled unlabeled reviews, early-stopped on eval.
- ``refit``: the LSTM of a seed fitted again, from the same initialisation, on train + eval
  (pseudo labels from NB-LR on train + eval) for the epochs its eval run chose, with that run's
  learning rate per epoch, no early stopping.
- ``compare``: every candidate's test accuracy, its difference from the default with McNemar's
  exact test and a paired bootstrap interval (reviews resampled by movie), ROC AUC and ECE;
  for those whose fusion is fitted on eval, the fusion's out-of-fold accuracy and ECE on eval.
"""

import glob
import json
import os
import time
from typing import Sequence

import numpy as np

from benchmarks import common
from benchmarks.accuracy import is_test_movie, load
from benchmarks.common import peak_rss_self_mb
from benchmarks.levers_compare import DEFAULT_SEED, compare, paths

STAGES = ('prepare', 'seed', 'salvage', 'refit', 'extra', 'compare')


def _features(levers: str) -> dict:
    """``prepare``'s features, waiting for them when a fit ends before ``prepare`` has run."""
    path = os.path.join(levers, 'features.npz')
    while not os.path.exists(path):
        print('waiting for', path, flush=True)
        time.sleep(60)
    return _load_npz(path)


def _config(model_dir: str, seed: int):
    """Every default but the seed (the default run's config, which ``prepare`` checks; the
    other fits may start before that run has ended)."""
    import dataclasses
    from trainer.config import ModelConfig
    manifest = os.path.join(model_dir, 'manifest.json')
    if os.path.exists(manifest):
        assert json.load(open(manifest))['config'] == dataclasses.asdict(ModelConfig()), \
            'the default run was not trained with the defaults'
    return ModelConfig(seed=seed)


def _test_rows(data_dir: str):
    return [r for r in load(data_dir) if is_test_movie(r[3])]


def _network(pre: str, config):
    from trainer import data
    from trainer.model import build_model
    pre_manifest = json.load(open(os.path.join(pre, 'manifest.json')))
    num_ids, max_tokens = data.id_space(pre, pre_manifest['transform']['num_oov_buckets'])
    return build_model(config, num_ids, max_tokens, data.ngram_space(pre)), pre_manifest


def _seeded_network(p: dict, seed: int):
    """(config, network, preprocess manifest) of the default recipe with ``seed``, Keras'
    random state set from it first, so that the network starts as that seed's run did."""
    import keras
    config = _config(p['model'], seed)
    keras.utils.set_random_seed(config.seed)
    network, pre_manifest = _network(p['pre'], config)
    return config, network, pre_manifest


def _deep_logits(network, token_ids: np.ndarray) -> np.ndarray:
    import keras
    from transforms import schema
    branch = keras.Model(network.model.input[schema.TOKEN_IDS_KEY], network.logit.output)
    return branch.predict(token_ids, batch_size=512, verbose=0).reshape(-1)


def _split_arrays(pre: str, split: str, num_ngrams: int):
    """(token ids, binary n-gram CSR, labels) of a split, read in one pass (one order)."""
    from trainer import data
    from transforms import schema
    batches = list(data.make_dataset(pre, split, 512, cache=False, keys=(
        schema.TOKEN_IDS_KEY, schema.NGRAM_IDS_KEY)).as_numpy_iterator())
    matrix, labels = data.ngram_matrix(batches, num_ngrams)
    return np.concatenate([x[schema.TOKEN_IDS_KEY] for x, _ in batches]), matrix, labels


def _save_csr(path: str, **arrays) -> None:
    from scipy import sparse
    out = {}
    for name, value in arrays.items():
        if sparse.issparse(value):
            out.update({f'{name}__data': value.data, f'{name}__indices': value.indices,
                        f'{name}__indptr': value.indptr, f'{name}__shape': np.array(value.shape)})
        else:
            out[name] = value
    np.savez_compressed(path + '.tmp.npz', **out)
    os.replace(path + '.tmp.npz', path)  # whole or absent: a waiting fit reads it


def _load_npz(path: str) -> dict:
    from scipy import sparse
    raw = dict(np.load(path, allow_pickle=False))
    out = {k: v for k, v in raw.items() if '__' not in k}
    for name in {k.split('__')[0] for k in raw if '__' in k}:
        out[name] = sparse.csr_matrix((raw[f'{name}__data'], raw[f'{name}__indices'],
                                       raw[f'{name}__indptr']), shape=tuple(raw[f'{name}__shape']))
    return out


def _nb_lr(matrix, labels, c):
    """The trainer's own n-gram regression -> (ratios * weights, intercept)."""
    from trainer import stacking
    ratios = stacking.nb_ratios(matrix, labels)
    weights, summary = stacking.fit_ngram_weights(matrix, labels, ratios, c)
    return ratios * weights, summary['intercept']


def prepare(args) -> None:
    """Test features, the export's test probabilities, NB-LR logits, the default's LSTM logits."""
    import tensorflow as tf
    import tensorflow_transform as tft
    from scipy import sparse
    from trainer import data
    from transforms import schema
    from transforms.beam.inference import Classifier
    p = paths(args.work)
    rows = _test_rows(args.data_dir)
    texts = [r[1] for r in rows]
    layer = tft.TFTransformOutput(p['pre']).transform_features_layer()
    num_ngrams = data.ngram_space(p['pre'])
    tokens, batches = [], []
    for i in range(0, len(texts), 256):
        out = layer({schema.REVIEW_KEY: tf.constant(texts[i:i + 256])})
        tokens.append(out[schema.TOKEN_IDS_KEY].numpy())
        ngrams = out[schema.NGRAM_IDS_KEY]
        ngrams = (tf.sparse.to_dense(ngrams) if isinstance(ngrams, tf.SparseTensor) else ngrams)
        batches.append(({schema.NGRAM_IDS_KEY: ngrams.numpy()}, np.zeros(len(ngrams))))
    test_matrix, _ = data.ngram_matrix(batches, num_ngrams)
    test_tokens = np.concatenate(tokens)
    classify = Classifier(p['model'])
    export_probability = np.concatenate(
        [classify(texts[i:i + 256])[0] for i in range(0, len(texts), 256)])

    config = _config(p['model'], DEFAULT_SEED)
    train_tokens, train_matrix, train_y = _split_arrays(p['pre'], schema.TRAIN_PREFIX, num_ngrams)
    eval_tokens, eval_matrix, eval_y = _split_arrays(p['pre'], schema.EVAL_PREFIX, num_ngrams)
    del train_tokens
    w1, b1 = _nb_lr(train_matrix, train_y, config.ngram_c)
    w2, b2 = _nb_lr(sparse.vstack([train_matrix, eval_matrix], format='csr'),
                    np.concatenate([train_y, eval_y]), config.ngram_c)
    network, _ = _network(p['pre'], config)
    network.model.load_weights(os.path.join(p['model'], 'model.weights.h5'))
    default_eval, default_test = (_deep_logits(network, eval_tokens),
                                  _deep_logits(network, test_tokens))
    epochs_eval, epochs_test = _epoch_logits(network, config, os.path.join(p['model'],
                                                                          'checkpoints'),
                                             eval_tokens, test_tokens)
    manifest = json.load(open(os.path.join(p['model'], 'manifest.json')))
    _save_csr(os.path.join(p['levers'], 'features.npz'), test_tokens=test_tokens,
              test_matrix=test_matrix, eval_tokens=eval_tokens, eval_matrix=eval_matrix)
    np.savez(os.path.join(p['levers'], 'common.npz'),
             test_y=np.array([r[2] == 'positive' for r in rows], 'int64'),
             test_movie=np.array([r[3] for r in rows]), eval_y=eval_y,
             export_probability=export_probability,
             wide_eval=eval_matrix @ w1 + b1, wide_test=test_matrix @ w1 + b1,
             wide_test_refit=test_matrix @ w2 + b2)
    _save_lstm(p['levers'], DEFAULT_SEED, default_eval, default_test, epochs_eval, epochs_test,
               manifest['history'], manifest['timings_s'], source='default run (imdb-sentiment '
               'train, its model.weights.h5 and checkpoints)')
    print('prepared: test', test_tokens.shape, 'eval', eval_tokens.shape,
          'peak RSS MB', peak_rss_self_mb(), flush=True)


def _epoch_logits(network, config, checkpoints: str, eval_tokens, test_tokens):
    """The LSTM's logits at the end of every epoch it ran (ModelCheckpoint's files)."""
    lstm = network.lstm_model(config)
    evals, tests = [], []
    for path in sorted(glob.glob(os.path.join(checkpoints, 'epoch-*.weights.h5'))):
        lstm.load_weights(path)
        evals.append(_deep_logits(network, eval_tokens))
        tests.append(_deep_logits(network, test_tokens))
    return np.array(evals), np.array(tests)


def _save_lstm(levers: str, seed: int, deep_eval, deep_test, epochs_eval, epochs_test,
               history, timings, source: str) -> None:
    np.savez(os.path.join(levers, f'lstm-seed{seed}.npz'), deep_eval=deep_eval,
             deep_test=deep_test, epochs_eval=epochs_eval, epochs_test=epochs_test)
    best = 1 + int(np.argmin(history['val_loss']))
    with open(os.path.join(levers, f'lstm-seed{seed}.json'), 'w') as f:
        json.dump({'seed': seed, 'source': source, 'best_epoch': best,
                   'history': history, 'timings_s': timings, 'peak_rss_mb': peak_rss_self_mb()},
                  f, indent=1)


def _training_set(pre: str, network, num_ngrams: int, splits, weights, intercept):
    """The labelled splits' token ids and labels, and the unlabeled split's labelled by the
    n-gram regression (``weights`` = ratios * kernel), as the default recipe distils."""
    from trainer import data
    tokens, labels = [], []
    for split in splits:
        x, y = data.token_arrays(pre, split)
        tokens.append(x['token_ids'])
        labels.append(y)
    unlabeled_tokens, matrix = data.unlabeled_tokens_and_ngrams(pre, num_ngrams)
    pseudo = (matrix @ weights + intercept > 0).astype('int64')
    return ({'token_ids': np.concatenate(tokens + [unlabeled_tokens])},
            np.concatenate(labels + [pseudo]).astype('int64'), int(len(pseudo)))


def seed(args) -> None:
    """The default recipe's LSTM with another seed; its logits on eval and test."""
    from trainer import data
    from trainer.callbacks import TrainingLog, make_callbacks
    from trainer.timing import Clock
    from transforms import schema
    p = paths(args.work)
    clock = Clock()
    with clock('setup'):
        config, network, pre_manifest = _seeded_network(p, args.seed)
        num_ngrams = network.ngram_bag.num_ids
        train_matrix, train_y = data.ngram_data(p['pre'], schema.TRAIN_PREFIX, num_ngrams)
        weights, intercept = _nb_lr(train_matrix, train_y, config.ngram_c)
        del train_matrix
        x, y, pseudo = _training_set(p['pre'], network, num_ngrams, [schema.TRAIN_PREFIX],
                                     weights, intercept)
        eval_ds = data.make_dataset(p['pre'], schema.EVAL_PREFIX, config.batch_size,
                                    num_examples=pre_manifest['counts']['eval'],
                                    keys=(schema.TOKEN_IDS_KEY,))
        out = os.path.join(p['levers'], f'seed{args.seed}')
        callbacks = make_callbacks(config, out)
        lstm = network.lstm_model(config)
    print(f'seed {args.seed}: {len(y)} reviews ({pseudo} pseudo-labelled)', flush=True)
    with clock('lstm'):
        history = lstm.fit(x, y, batch_size=config.batch_size, shuffle=True,
                           validation_data=eval_ds, epochs=config.epochs, callbacks=callbacks,
                           verbose=0).history
    feats = _features(p['levers'])
    epochs_eval, epochs_test = _epoch_logits(network, config, os.path.join(out, 'checkpoints'),
                                             feats['eval_tokens'], feats['test_tokens'])
    # _epoch_logits left the last epoch's weights in place: the best epoch's, from its file.
    best = 1 + int(np.argmin(history['val_loss']))
    timings = dict(clock.seconds, epochs=next(
        c for c in callbacks if isinstance(c, TrainingLog)).epoch_parts)
    _save_lstm(p['levers'], args.seed, epochs_eval[best - 1], epochs_test[best - 1],
               epochs_eval, epochs_test,
               {k: [float(v) for v in vs] for k, vs in history.items()}, timings,
               source='accuracy_levers seed')
    print(f'seed {args.seed}: best epoch {best}, {clock.seconds}, peak RSS MB {peak_rss_self_mb()}',
          flush=True)


def salvage(args) -> None:
    """A ``seed`` fit stopped before early stopping ended it: its logits from the epochs it
    finished (their checkpoints and history.csv), the best of those by val_loss. The JSON
    says how many epochs ran, so the table can say the choice was among those only."""
    import csv as csv_module
    p = paths(args.work)
    out = os.path.join(p['levers'], f'seed{args.seed}')
    with open(os.path.join(out, 'history.csv'), newline='') as f:
        rows = list(csv_module.DictReader(f))
    if not rows:
        raise SystemExit(f'{out}: no finished epoch to salvage')
    history = {k: [float(r[k]) for r in rows] for k in rows[0] if k != 'epoch'}
    config = _config(p['model'], args.seed)
    network, _ = _network(p['pre'], config)
    feats = _features(p['levers'])
    epochs_eval, epochs_test = _epoch_logits(network, config, os.path.join(out, 'checkpoints'),
                                             feats['eval_tokens'], feats['test_tokens'])
    epochs_eval, epochs_test = epochs_eval[:len(rows)], epochs_test[:len(rows)]
    best = 1 + int(np.argmin(history['val_loss']))
    _save_lstm(p['levers'], args.seed, epochs_eval[best - 1], epochs_test[best - 1],
               epochs_eval, epochs_test, history, {'epochs_finished': len(rows)},
               source=f'accuracy_levers seed, stopped after {len(rows)} '
                      'epoch(s) and salvaged: the best epoch is chosen among those only')
    print(f'salvaged seed {args.seed}: {len(rows)} epoch(s), best {best}', flush=True)


def refit(args) -> None:
    """The seed's LSTM fitted again from its initialisation on train + eval for the epochs its
    eval run chose, each epoch at the learning rate that run used."""
    import keras
    from scipy import sparse
    from trainer import data
    from trainer.callbacks import TrainingLog
    from trainer.timing import Clock
    from transforms import schema
    p = paths(args.work)
    run = json.load(open(os.path.join(p['levers'], f'lstm-seed{args.seed}.json')))
    epochs = run['best_epoch']
    rates = run['history'].get('learning_rate') or [None] * epochs
    clock = Clock()
    with clock('setup'):
        config, network, _ = _seeded_network(p, args.seed)
        num_ngrams = network.ngram_bag.num_ids
        parts = [data.ngram_data(p['pre'], s, num_ngrams)
                 for s in (schema.TRAIN_PREFIX, schema.EVAL_PREFIX)]
        weights, intercept = _nb_lr(sparse.vstack([m for m, _ in parts], format='csr'),
                                    np.concatenate([y for _, y in parts]), config.ngram_c)
        del parts
        x, y, pseudo = _training_set(p['pre'], network, num_ngrams,
                                     [schema.TRAIN_PREFIX, schema.EVAL_PREFIX], weights, intercept)
        lstm = network.lstm_model(config)
        log = TrainingLog()
        schedule = keras.callbacks.LearningRateScheduler(
            lambda epoch, rate: rates[epoch] if rates[epoch] is not None else rate)
    print(f'refit seed {args.seed}: {len(y)} reviews ({pseudo} pseudo-labelled), '
          f'{epochs} epoch(s) at {rates[:epochs]}', flush=True)
    with clock('lstm'):
        lstm.fit(x, y, batch_size=config.batch_size, shuffle=True, epochs=epochs,
                 callbacks=[schedule, log], verbose=0)
    feats = _features(p['levers'])
    deep_test = _deep_logits(network, feats['test_tokens'])
    np.savez(os.path.join(p['levers'], f'refit-seed{args.seed}.npz'), deep_test=deep_test)
    with open(os.path.join(p['levers'], f'refit-seed{args.seed}.json'), 'w') as f:
        json.dump({'seed': args.seed, 'epochs': epochs, 'reviews': int(len(y)),
                   'pseudo_labelled': pseudo, 'timings_s': dict(clock.seconds,
                                                                epochs=log.epoch_parts),
                   'peak_rss_mb': peak_rss_self_mb()}, f, indent=1)
    print(f'refit seed {args.seed}: {clock.seconds}, peak RSS MB {peak_rss_self_mb()}',
          flush=True)


def extra(args) -> None:
    """A third linear model for the fusion, on the same n-gram ids: logistic regression on
    idf-weighted, L2-normalised binary n-grams (C by eval accuracy), its logits on eval and
    test, and on test once refitted on train + eval (idf too)."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression
    from trainer import data
    from transforms import schema
    p = paths(args.work)
    feats = _features(p['levers'])
    train_matrix, train_y = data.ngram_data(p['pre'], schema.TRAIN_PREFIX,
                                            feats['test_matrix'].shape[1] - 1)
    eval_y = dict(np.load(os.path.join(p['levers'], 'common.npz')))['eval_y']

    def fit(matrix, labels, c):
        idf = TfidfTransformer(norm='l2').fit(matrix)
        return idf, LogisticRegression(C=c, solver='liblinear', max_iter=2000).fit(
            idf.transform(matrix), labels)

    best = None
    for c in (1.0, 4.0, 16.0):
        idf, model = fit(train_matrix, train_y, c)
        logits = model.decision_function(idf.transform(feats['eval_matrix']))
        accuracy = float(((logits > 0) == (eval_y == 1)).mean())
        print(f'tf-idf LR C={c}: eval {accuracy:.4f}', flush=True)
        if best is None or accuracy > best[0]:
            best = (accuracy, c, logits, model.decision_function(idf.transform(
                feats['test_matrix'])))
    _, c, eval_logits, test_logits = best
    idf, model = fit(sparse.vstack([train_matrix, feats['eval_matrix']], format='csr'),
                     np.concatenate([train_y, eval_y]), c)
    np.savez(os.path.join(p['levers'], 'extra.npz'), tfidf_eval=eval_logits,
             tfidf_test=test_logits,
             tfidf_test_refit=model.decision_function(idf.transform(feats['test_matrix'])),
             tfidf_c=np.array(c))
    print(f'extra: tf-idf LR C={c}, peak RSS MB {peak_rss_self_mb()}', flush=True)


def main(argv: Sequence[str]) -> int:
    parser = common.parser('accuracy_levers', __doc__)
    parser.add_argument('stage', choices=STAGES)
    parser.add_argument('--work', default='/tmp/imdb-accuracy')
    parser.add_argument('--data-dir', default=common.DATA)
    parser.add_argument('--seed', type=int, default=DEFAULT_SEED)
    parser.add_argument('--baseline', default=None,
                        help='compare: the accuracy benchmark\'s JSON of the default run (train '
                             'time, memory, baselines); default WORK/../accuracy-default.json')
    parser.add_argument('--out', default=common.result_path('accuracy-levers'))
    args = parser.parse_args(argv)
    started = time.time()
    if args.stage == 'compare':
        common.write_json(args.out, dict(common.header('accuracy_levers', argv), **compare(args)))
        print('wrote', args.out)
    else:
        {'prepare': prepare, 'seed': seed, 'salvage': salvage, 'refit': refit,
         'extra': extra}[args.stage](args)
    print(f'{args.stage} done in {time.time() - started:.0f} s', flush=True)
    return 0
