"""Is the TFRecord input pipeline the bottleneck? Training steps/s fed from the
preprocess TFRecords vs the same model fed from in-memory NumPy arrays.

  .venv/bin/python benchmarks/input_pipeline.py --data out/preprocess

Writes benchmarks/results/input_pipeline.json. Each feed is timed over --steps
training steps after a warm-up, alternating feeds for --rounds rounds; the best
round of each counts (least disturbed by other work on the machine).
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from measure import write_json  # noqa: E402
from transforms.jsonio import read_json, utc_now, versions  # noqa: E402
from trainer import data  # noqa: E402
from trainer.config import ModelConfig  # noqa: E402
from trainer.model import build_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', required=True, help='preprocess output folder')
    parser.add_argument('--steps', type=int, default=60)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--out', default=os.path.join(os.path.dirname(__file__), 'results',
                                                      'input_pipeline.json'))
    args = parser.parse_args()
    config = ModelConfig()
    pre = read_json(os.path.join(args.data, 'manifest.json'))
    num_ids, max_tokens = data.id_space(args.data, pre['transform']['num_oov_buckets'])
    records = data.make_dataset(args.data, 'train', config.batch_size, shuffle=True,
                                num_examples=pre['counts']['train']).repeat()
    x = np.concatenate([b[0].numpy() for b in data.make_dataset(args.data, 'train', 1024)])
    y = np.concatenate([b[1].numpy() for b in data.make_dataset(args.data, 'train', 1024)])
    n = args.steps * config.batch_size

    def tfrecords(model):
        model.fit(records, steps_per_epoch=args.steps, epochs=1, verbose=0)

    def arrays(model):
        model.fit(x[:n], y[:n], batch_size=config.batch_size, shuffle=True, epochs=1, verbose=0)

    feeds = {'tfrecords': tfrecords, 'arrays': arrays}
    models = {name: build_model(config, num_ids, max_tokens).model for name in feeds}
    for name, feed in feeds.items():  # warm-up: tracing, the TFRecord cache
        models[name].fit(records if name == 'tfrecords' else x[:256],
                         None if name == 'tfrecords' else y[:256],
                         steps_per_epoch=5 if name == 'tfrecords' else None, epochs=1, verbose=0)
    timings = {name: [] for name in feeds}
    for _ in range(args.rounds):
        for name, feed in feeds.items():
            start = time.perf_counter()
            feed(models[name])
            timings[name].append(args.steps / (time.perf_counter() - start))
    best = {name: max(v) for name, v in timings.items()}
    result = {
        'benchmark': 'input_pipeline', 'created': utc_now(),
        'command': 'python benchmarks/input_pipeline.py ' + ' '.join(sys.argv[1:]),
        'data': args.data, 'steps': args.steps, 'batch_size': config.batch_size,
        'max_tokens': max_tokens, 'steps_per_s': best, 'rounds_steps_per_s': timings,
        'tfrecords_over_arrays': best['tfrecords'] / best['arrays'],
        'machine': {'cpus': os.cpu_count(), 'platform': platform.platform()},
        'versions': versions(),
    }
    write_json(args.out, result)
    print(json.dumps({k: result[k] for k in ('steps_per_s', 'tfrecords_over_arrays')}))


if __name__ == '__main__':
    main()
