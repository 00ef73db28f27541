"""Scoring speed and memory: the score job against in-process prediction.

  .venv/bin/python benchmarks/score_throughput.py --model out/model \\
      --set train=../shared/data/imdb/train.csv \\
      --set unsup=../shared/data/imdb/unsup.csv \\
      --set both=../shared/data/imdb/train.csv,../shared/data/imdb/unsup.csv

For each set, runs `imdb-sentiment score` in a child process under
`/usr/bin/time -v` (wall time, peak RSS) and, for the first set, scores the same
reviews in this process with the export's serving signature in batches of 256
(the ceiling the job is compared with). Writes benchmarks/results/score.json.
"""

import argparse
import csv
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from measure import run_timed, write_json  # noqa: E402
from transforms.jsonio import utc_now, versions  # noqa: E402

_BIN = os.path.join(os.path.dirname(sys.executable), 'imdb-sentiment')


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
    out = tempfile.mkdtemp(prefix='score-bench-')
    cmd = [_BIN, 'score', '--model', model, '--output', os.path.join(out, 'score'),
           '--no-explain']
    for p in paths:
        cmd += ['--input', p]
    cmd += extra
    run = run_timed(cmd)
    seconds = run.wall_s
    manifest = json.load(open(os.path.join(out, 'score', 'manifest.json')))
    read = manifest['counts']['read']
    return {'command': ' '.join(cmd), 'reviews': read, 'wall_s': round(seconds, 1),
            'reviews_per_s': round(read / seconds, 1), 'peak_rss_mb': run.peak_rss_mb,
            'accuracy': manifest['metrics'].get('accuracy')}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', required=True)
    parser.add_argument('--set', action='append', required=True, metavar='NAME=CSV[,CSV]')
    parser.add_argument('--out', default=os.path.join(os.path.dirname(__file__), 'results',
                                                      'score.json'))
    args, extra = parser.parse_known_args()
    sets = [(s.split('=', 1)[0], s.split('=', 1)[1].split(',')) for s in args.set]
    result = {'benchmark': 'score', 'created': utc_now(), 'model': args.model,
              'command': 'python benchmarks/score_throughput.py ' + ' '.join(sys.argv[1:]),
              'cpus': os.cpu_count(), 'versions': versions(), 'sets': {}}
    for name, paths in sets:
        result['sets'][name] = job(args.model, paths, extra)
        print(name, json.dumps(result['sets'][name]), flush=True)
    first_name, first_paths = sets[0]
    result['in_process_predict'] = dict(in_process(args.model, first_paths), set=first_name)
    result['job_over_in_process'] = round(
        result['sets'][first_name]['reviews_per_s'] / result['in_process_predict']['reviews_per_s'], 3)
    print(json.dumps({k: result[k] for k in ('in_process_predict', 'job_over_in_process')}))
    write_json(args.out, result)


if __name__ == '__main__':
    main()
