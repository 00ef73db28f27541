"""How much slower is `imdb-sentiment preprocess` than a plain pass doing the same work?

  python -m benchmarks preprocess_speed                        # train.csv, 25k reviews
  python -m benchmarks preprocess_speed --input OTHER.csv --runs 2

Each run times, one after the other in fresh processes under /usr/bin/time -v (process
start and imports counted; wall time and peak RSS):

- the job: `imdb-sentiment preprocess --input CSV --output TMP` with every default
  (DirectRunner, in one worker process per core past 24 MB of input; 1-3-gram branch; 80/20
  train/eval split by review text); `--job-arg=--direct_num_workers=1` runs it in one process;
- the plain pass (this benchmark with --plain): the same work in one Python process with
  no Beam or tf.Transform. It reads the CSV with the csv module, cleans and tokenizes
  with the same TensorFlow graph (``transforms.tft.cleaning.tokenize``, default cleaning,
  batches of 1,000), splits by the same hash, counts the words and 1-3-grams of the
  train split in ``collections.Counter``s, keeps the same vocabularies (30k words at
  2 or more, 500k n-grams at 2 or more, tf.Transform's order), maps every review to
  its token ids (400, padded; an OOV bucket) and distinct n-gram ids, and writes the
  same features as GZIP TFRecords.

The figure is job seconds / plain seconds per run (goal: at most 1.5).
Writes results/preprocess_speed.json (--out).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
from typing import Sequence

from benchmarks import common


def plain_pass(path: str, out: str) -> dict:
    """The job's work without Beam: -> counts."""
    import collections
    import csv
    import numpy as np
    import tensorflow as tf
    from transforms import schema
    from transforms.tft.cleaning import CleaningConfig, tokenize
    from transforms.beam.split import EVAL, side

    with open(path, newline='', encoding='utf-8') as f:
        rows = [(r['review'], 1 if r['sentiment'] == 'positive' else 0)
                for r in csv.DictReader(f)]
    clean = tf.function(lambda texts: tokenize(texts, CleaningConfig()))
    tokens = []
    for start in range(0, len(rows), 1000):
        batch = tf.constant([text for text, _ in rows[start:start + 1000]])
        tokens.extend(clean(batch).to_list())
    sides = [side(text, schema.DEFAULT_EVAL_FRACTION) for text, _ in rows]

    def grams(words):
        for n in range(1, schema.DEFAULT_NGRAM_MAX + 1):
            for i in range(len(words) - n + 1):
                yield b' '.join(words[i:i + n])

    word_counts, gram_counts = collections.Counter(), collections.Counter()
    for words, where in zip(tokens, sides):
        if where != EVAL:
            word_counts.update(words)
            gram_counts.update(grams(words))

    def vocabulary(counts, top_k, threshold):
        kept = sorted(((c, k) for k, c in counts.items() if c >= threshold), reverse=True)
        return {k: i for i, (_, k) in enumerate(kept[:top_k])}

    words = vocabulary(word_counts, schema.DEFAULT_VOCAB_TOP_K,
                       schema.DEFAULT_FREQUENCY_THRESHOLD)
    ngrams = vocabulary(gram_counts, schema.DEFAULT_NGRAM_VOCAB_TOP_K,
                        schema.DEFAULT_NGRAM_FREQUENCY_THRESHOLD)
    oov = len(words) + 1
    options = tf.io.TFRecordOptions(compression_type='GZIP')
    writers = {s: tf.io.TFRecordWriter(os.path.join(out, f'{name}.tfrecord.gz'), options)
               for s, name in ((0, 'train'), (EVAL, 'eval'))}
    for i, ((_, label), review_words, where) in enumerate(zip(rows, tokens, sides)):
        ids = np.zeros(schema.DEFAULT_MAX_TOKENS, 'int64')
        known = [words.get(w, -1) + 1 for w in review_words[:schema.DEFAULT_MAX_TOKENS]]
        ids[:len(known)] = [k if k > 0 else oov for k in known]
        gram_ids = sorted({ngrams[g] + 1 for g in grams(review_words) if g in ngrams})
        feature = {
            'id': tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(i).encode()])),
            'label': tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
            'token_ids': tf.train.Feature(int64_list=tf.train.Int64List(value=ids)),
            'num_tokens': tf.train.Feature(int64_list=tf.train.Int64List(
                value=[len(review_words)])),
            'num_oov': tf.train.Feature(int64_list=tf.train.Int64List(
                value=[sum(w not in words for w in review_words)])),
            'ngram_ids': tf.train.Feature(int64_list=tf.train.Int64List(value=gram_ids)),
        }
        writers[where].write(tf.train.Example(features=tf.train.Features(
            feature=feature)).SerializeToString())
    for writer in writers.values():
        writer.close()
    return {'reviews': len(rows), 'words': len(words), 'ngrams': len(ngrams)}


def timed(cmd) -> dict:
    run = common.run_timed(cmd)
    return {'wall_s': round(run.wall_s, 1), 'peak_rss_mb': run.peak_rss_mb,
            'stdout_tail': run.stdout.strip().splitlines()[-1:] or None}


def side_by_side(path: str, job_args: Sequence[str], work: str) -> dict:
    """The job, then the plain pass, on ``path``, their outputs under ``work``."""
    job_cmd = common.job_command('preprocess', '--input', path, '--output',
                                 os.path.join(work, 'job'), *job_args)
    job = dict(timed(job_cmd), command=common.shown(job_cmd))
    job.pop('stdout_tail')
    found = common.counts(os.path.join(work, 'job'))
    job['counts'] = {k: found[k] for k in ('read', 'train', 'eval')}
    with open(os.path.join(work, 'job', 'manifest.json'), encoding='utf-8') as f:
        job['worker_processes'] = json.load(f).get('worker_processes')  # 1: in one process
    os.makedirs(os.path.join(work, 'plain'))
    plain = timed([sys.executable, '-m', 'benchmarks', 'preprocess_speed', '--plain', path,
                   os.path.join(work, 'plain')])
    plain['counts'] = json.loads(plain.pop('stdout_tail')[0])
    return {'job': job, 'plain_pass': plain,
            'job_over_plain': round(job['wall_s'] / plain['wall_s'], 2)}


def main(argv: Sequence[str]) -> int:
    parser = common.parser('preprocess_speed', __doc__)
    parser.add_argument('--input', default=common.TRAIN_CSV)
    parser.add_argument('--runs', type=int, default=1)
    parser.add_argument('--job-arg', action='append', default=[],
                        help='Extra preprocess flag, e.g. "--direct_num_workers=2".')
    parser.add_argument('--out', default=common.result_path('preprocess_speed'))
    parser.add_argument('--plain', nargs=2, metavar=('CSV', 'OUT'), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.plain:
        print(json.dumps(plain_pass(*args.plain)))
        return 0
    if not os.path.exists(args.input):
        raise SystemExit(f'{args.input}: not found (the shared data folder is absent)')
    result = dict(common.header('preprocess_speed', argv), input=args.input, runs=[])
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix='preprocess-speed-') as work:
            entry = side_by_side(args.input, args.job_arg, work)
        result['runs'].append(entry)
        print(json.dumps(entry), flush=True)
    result['job_over_plain_median'] = statistics.median(r['job_over_plain']
                                                        for r in result['runs'])
    common.write_json(args.out, result)
    print('wrote', args.out)
    return 0
