"""How many reviews a second does the score job read, against prediction in this process?

  python -m benchmarks score_throughput --model MODEL \\
      --set train=../shared/data/imdb/train.csv \\
      --set unsup=../shared/data/imdb/unsup.csv \\
      --set both=../shared/data/imdb/train.csv,../shared/data/imdb/unsup.csv

For each set, runs `imdb-sentiment score` in a child process under
`/usr/bin/time -v` (wall time, peak RSS) and, for the first set, scores the same
reviews in this process with the export's serving signature in batches of 256
(the ceiling the job is compared with, start-up not counted). Writes results/score.json.
Arguments it does not know go to the score job.
"""

import csv
import json
import os
import tempfile
import time
from typing import Sequence

from benchmarks import common


def _reviews(paths):
    for path in paths:
        with open(path, newline='', encoding='utf-8') as f:
            reader = csv.DictReader(f)
            yield from (row['review'] for row in reader)


def in_process(model: str, paths, batch: int = 256) -> dict:
    from transforms.beam.inference import Classifier
    texts = list(_reviews(paths))
    classify = Classifier(model)
    classify(texts[:batch])  # warm-up: tracing
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        classify(texts[i:i + batch])
    seconds = time.perf_counter() - start
    return {'reviews': len(texts), 'seconds': round(seconds, 1),
            'reviews_per_s': round(len(texts) / seconds, 1)}


def job(model: str, paths, extra) -> dict:
    cmd = common.job_command('score', '--model', model, '--no-explain')
    for p in paths:
        cmd += ['--input', p]
    cmd += extra
    with tempfile.TemporaryDirectory(prefix='score-bench-') as out:
        run = common.run_timed(cmd + ['--output', os.path.join(out, 'score')])
        with open(os.path.join(out, 'score', 'manifest.json'), encoding='utf-8') as f:
            manifest = json.load(f)
    read = manifest['counts']['read']
    return {'command': common.shown(cmd), 'reviews': read, 'wall_s': round(run.wall_s, 1),
            'reviews_per_s': round(read / run.wall_s, 1), 'peak_rss_mb': run.peak_rss_mb,
            'accuracy': manifest['metrics'].get('accuracy')}


def main(argv: Sequence[str]) -> int:
    parser = common.parser('score_throughput', __doc__)
    parser.add_argument('--model', required=True)
    parser.add_argument('--set', action='append', required=True, metavar='NAME=CSV[,CSV]')
    parser.add_argument('--out', default=common.result_path('score'))
    args, extra = parser.parse_known_args(argv)
    sets = [(s.split('=', 1)[0], s.split('=', 1)[1].split(',')) for s in args.set]
    result = dict(common.header('score_throughput', argv), model=args.model, sets={})
    for name, paths in sets:
        result['sets'][name] = job(args.model, paths, extra)
        print(name, json.dumps(result['sets'][name]), flush=True)
    first_name, first_paths = sets[0]
    result['in_process_predict'] = dict(in_process(args.model, first_paths), set=first_name)
    result['job_over_in_process'] = round(result['sets'][first_name]['reviews_per_s']
                                          / result['in_process_predict']['reviews_per_s'], 3)
    print(json.dumps({k: result[k] for k in ('in_process_predict', 'job_over_in_process')}))
    common.write_json(args.out, result)
    return 0
