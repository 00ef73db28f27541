"""Where does the default recipe's training time go, and is the trainer input-bound?

  python -m benchmarks training --data PRE --model MODEL   # a finished training run
  python -m benchmarks training --data PRE                 # runs `imdb-sentiment train`

PRE is a preprocess output (e.g. the accuracy benchmark's WORK/preprocess).

1. Breakdown: the run's ``timings_s`` (its manifest): setup (data, network), each part
   of the recipe (n-gram regression, pseudo labels, LSTM, fusion, n-gram refit),
   evaluation, export; for each LSTM epoch its training and validation seconds and
   milliseconds per step. Without --model it runs `imdb-sentiment train --data PRE` with
   every default (under /usr/bin/time -v: wall time and peak RSS) into a temporary folder.
2. Input-bound check, side by side in this process: the same LSTM branch (the default
   config, this data's id space), each time built afresh with the same seed, trained for
   --steps steps after --warmup steps (tracing), twice each in the order A B C C B A, on
   - ``tfrecords``: ``trainer.data.make_dataset`` over the train split's TFRecords (parsed
     once and cached, shuffled, padded batches): the LSTM's input without unlabeled reviews
     until the trainer switched to arrays, still the joint recipe's;
   - ``in_memory_dataset``: the same token ids in memory through
     ``tf.data.Dataset.from_tensor_slices`` + shuffle + batch: the LSTM's input with unlabeled
     reviews until then;
   - ``plain_keras_fit``: ``model.fit(x, y, batch_size, shuffle=True)`` on the numpy arrays
     (read by the trainer's own ``trainer.data.token_arrays``): what the stacked recipe
     now does for the LSTM, with or without unlabeled reviews;
   and reports the faster run's milliseconds per step and its ratio to plain Keras (1.0: not
   input-bound).

Writes results/training.json (--out).
"""

import json
import os
import tempfile
import time
from typing import Sequence

from benchmarks import common


def run_train(data: str) -> dict:
    out = os.path.join(tempfile.mkdtemp(prefix='training-bench-'), 'model')
    cmd = common.job_command('train', '--data', data, '--output', out)
    run = common.run_timed(cmd)
    return {'model': out, 'command': common.shown(cmd),
            'wall_s': round(run.wall_s, 1), 'peak_rss_mb': run.peak_rss_mb}


def breakdown(model: str) -> dict:
    with open(os.path.join(model, 'manifest.json'), encoding='utf-8') as f:
        manifest = json.load(f)
    timings = manifest.get('timings_s')
    if not timings:
        raise SystemExit(f'{model}: its manifest has no timings_s (trained before they '
                         'were recorded); train again or leave out --model')
    epochs = [dict(e, ms_per_step=round(1000 * e['train_s'] / e['steps'], 1))
              for e in timings['epochs'] if e['steps']]
    total = manifest['train_time_s'] + timings['setup'] + timings['evaluate'] + timings['export']
    parts = {'setup': timings['setup'], **timings['recipe_parts'],
             'evaluate': timings['evaluate'], 'export': timings['export']}
    return {'model': model, 'counts': manifest['preprocess']['manifest']['counts'],
            'epochs_run': manifest['epochs_run'], 'best_epoch': manifest['best_epoch'],
            'seconds': parts, 'seconds_total': round(total, 1),
            'share': {k: round(v / total, 3) for k, v in parts.items()},
            'lstm_epochs': epochs,
            'lstm_training_share_of_lstm_part': round(
                sum(e['train_s'] for e in epochs) / timings['recipe_parts']['lstm'], 3)
            if timings['recipe_parts'].get('lstm') else None}


class _StepClock:
    """Timestamps at the end of every training batch."""

    def __init__(self):
        import keras

        class Clock(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.ends = []

            def on_train_batch_end(self, batch, logs=None):
                self.ends.append(time.perf_counter())
        self.callback = Clock()

    def ms_per_step(self, warmup: int) -> float:
        ends = self.callback.ends[warmup:]
        return 1000 * (ends[-1] - ends[0]) / (len(ends) - 1)


def input_bound(data: str, steps: int, warmup: int) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf
    from transforms import schema
    from trainer import data as trainer_data
    from trainer.config import ModelConfig
    from trainer.model import build_model
    from trainer.data import token_arrays

    config = ModelConfig()
    manifest = json.load(open(os.path.join(data, 'manifest.json')))
    num_ids, max_tokens = trainer_data.id_space(data, manifest['transform']['num_oov_buckets'])
    keys = (schema.TOKEN_IDS_KEY,)
    needed = (steps + warmup + 1) * config.batch_size
    arrays, y = token_arrays(data, schema.TRAIN_PREFIX)
    x = arrays[schema.TOKEN_IDS_KEY]
    repeats = -(-needed // len(x))
    x, y = np.concatenate([x] * repeats), np.concatenate([y] * repeats)

    def network():
        keras.utils.set_random_seed(config.seed)
        return build_model(config, num_ids, max_tokens, 0).lstm_model(config)

    def timed(fit) -> float:
        clock = _StepClock()
        fit(network(), clock.callback)
        return round(clock.ms_per_step(warmup), 1)

    total = steps + warmup
    n = total * config.batch_size
    fits = {
        'tfrecords': lambda m, cb: m.fit(
            trainer_data.make_dataset(data, schema.TRAIN_PREFIX, config.batch_size,
                                      shuffle=True, shuffle_buffer=25000,
                                      seed=config.seed, keys=keys).repeat().take(total),
            epochs=1, shuffle=False, verbose=0, callbacks=[cb]),  # the dataset shuffles
        'in_memory_dataset': lambda m, cb: m.fit(
            tf.data.Dataset.from_tensor_slices(({schema.TOKEN_IDS_KEY: x}, y))
            .shuffle(len(y), seed=config.seed).batch(config.batch_size)
            .prefetch(tf.data.AUTOTUNE).take(total),
            epochs=1, shuffle=False, verbose=0, callbacks=[cb]),
        'plain_keras_fit': lambda m, cb: m.fit(
            {schema.TOKEN_IDS_KEY: x[:n]}, y[:n], batch_size=config.batch_size, epochs=1,
            shuffle=True, verbose=0, callbacks=[cb]),
    }
    # A B C C B A: a drift of the machine's load over the run weighs on each alike; each
    # variant's faster run counts.
    samples = {name: [] for name in fits}
    for name in [*fits, *reversed(fits)]:
        samples[name].append(timed(fits[name]))
        print(name, samples[name][-1], 'ms/step', flush=True)
    results = {name: min(values) for name, values in samples.items()}
    plain = results['plain_keras_fit']
    return {'steps': steps, 'warmup_steps': warmup, 'batch_size': config.batch_size,
            'max_tokens': int(max_tokens), 'token_ids': int(num_ids),
            'ms_per_step': results, 'ms_per_step_runs': samples,
            'over_plain_keras': {k: round(v / plain, 3) for k, v in results.items()}}


def main(argv: Sequence[str]) -> int:
    parser = common.parser('training', __doc__)
    parser.add_argument('--data', required=True, help='A preprocess output folder.')
    parser.add_argument('--model', help='A finished `imdb-sentiment train` output to break '
                                        'down (default: train one with every default).')
    parser.add_argument('--steps', type=int, default=120)
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument('--out', default=common.result_path('training'))
    args = parser.parse_args(argv)
    result = common.header('training', argv)
    model = args.model
    if not model:
        result['train'] = run_train(args.data)
        model = result['train']['model']
    result['breakdown'] = breakdown(model)
    print(json.dumps(result['breakdown'], indent=1), flush=True)
    result['input_bound'] = input_bound(args.data, args.steps, args.warmup)
    common.write_json(args.out, result)
    print('wrote', args.out)
    return 0
