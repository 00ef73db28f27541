"""The preprocess job: raw reviews -> validated, cleaned, tf.Transform'ed TFRecords.

Locally (DirectRunner):

  imdb-sentiment preprocess --input ../shared/data/imdb/train.csv --output out/preprocess

On Dataflow, the same code with the workers installed from our setup.py:

  imdb-sentiment preprocess --input gs://BUCKET/imdb/*.csv --output gs://BUCKET/out/preprocess \\
      --runner=DataflowRunner --project=P --region=R \\
      --temp_location=gs://BUCKET/tmp --setup_file=./setup.py

Split by movie, so that no movie is on both sides (the shared data's row,movie,rating file):

  imdb-sentiment preprocess --input ../shared/data/imdb/train.csv --output out/preprocess \\
      --movies ../shared/data/imdb/train_movies.csv --movies-for train.csv

With unlabeled reviews as well, for the trainer's word vectors:

  imdb-sentiment preprocess --input ../shared/data/imdb/train.csv --output out/preprocess \
      --unlabeled ../shared/data/imdb/unsup.csv

Outputs under --output: train-*.tfrecord.gz and eval-*.tfrecord.gz (transformed
examples: token_ids, and with --ngram-max > 0 ngram_ids), unlabeled-*.tfrecord.gz
with --unlabeled (label -1), transform_fn/ and transformed_metadata/ (the
tf.Transform graph), vocab.txt, eval_reviews/eval-*.csv (the eval split's raw
reviews with their ids, for scoring), with --test-fraction test_reviews/test-*.csv
(the test split's raw reviews: scored, never transformed or trained on),
rejected/rejected-*.jsonl and rejected/unlabeled-*.jsonl (dead letters) and manifest.json.
"""

import argparse
import dataclasses
import logging
import os
from typing import Dict, List, Optional, Sequence

import apache_beam as beam
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline import flags
from pipeline.flags.beam_jobs import cleaning_config
from pipeline.launcher import BeamJob, Fallback, Plan, Stats, run_beam_job
from pipeline.runtime import bundles, local_cores, memory
from pipeline.runtime.publish import remove_paths
from transforms import features, schema
from transforms.beam import movies
from transforms.beam.record_batches import ToRecordBatches
from transforms.beam.inputs import ACLIMDB, InputSpec, resolve_inputs
from transforms.beam.intake import ACCEPTED, READ, REJECTED, ReadAndValidate
from transforms.beam.progress import LogProgress
from transforms.beam.sinks import CountAs, SumAs, WriteCsv, write_job_stats
from transforms.beam.split import SplitTrainEval
from transforms.errors import InputError
from transforms.tft.preprocessing import TransformConfig, make_preprocessing_fn, raw_metadata

_LOG = logging.getLogger(__name__)

NAME = 'preprocess'
_TFT_TEMP = '_tft_tmp'
_LABELLED, _UNLABELED = 'labelled', 'unlabeled'   # Plan.extra: the two kinds of input


def transform_config(job_args: argparse.Namespace) -> TransformConfig:
    """The tf.Transform configuration the parsed flags ask for."""
    return TransformConfig(
        cleaning=cleaning_config(job_args),
        max_tokens=job_args.max_tokens, vocab_top_k=job_args.vocab_size,
        frequency_threshold=job_args.min_frequency, num_oov_buckets=job_args.oov_buckets,
        truncate=job_args.truncate, ngram_max=job_args.ngram_max,
        ngram_vocab_top_k=job_args.ngram_vocab_size,
        ngram_frequency_threshold=job_args.ngram_min_frequency)


def _to_raw_example(record: Dict) -> Dict:
    return features.raw_example(record, schema.LABEL_TO_INT[record[schema.LABEL_KEY]])


def _to_unlabeled_example(record: Dict) -> Dict:
    return features.raw_example(record, schema.UNLABELED_ID)


def _to_csv_row(record: Dict) -> List:
    """An accepted record -> its CSV row (features.CSV_HEADER): what a later job reads back."""
    return [record.get(c.name) for c in features.CSV_COLUMNS]


def plan(job_args: argparse.Namespace) -> Plan:
    specs = resolve_inputs(job_args.input)
    if not any(s.labelled for s in specs):
        raise InputError(f'no --input has labels (a CSV "{features.LABEL.csv}" column, or an '
                         "aclImdb folder's pos/ and neg/): preprocess learns from labelled "
                         'reviews; give unlabelled ones with --unlabeled')
    unlabeled = (resolve_inputs(job_args.unlabeled, include_unlabeled=True)
                 if job_args.unlabeled else [])
    unlabeled = _without_labelled_files(specs, unlabeled)
    if job_args.movies:
        _check_movies(job_args.movies, job_args.movies_for)
    elif job_args.movies_for:
        raise InputError('--movies-for needs --movies')
    return Plan(output=job_args.output, specs=[*specs, *unlabeled], protected=[job_args.movies],
                extra={_LABELLED: specs, _UNLABELED: unlabeled})


def _movie_groups(p: beam.Pipeline, job_args: argparse.Namespace):
    """The --movies file's groups for the split (a side input), or None."""
    if not job_args.movies:
        return None
    return movies.groups(p | 'ReadMovies' >> movies.ReadMovies(job_args.movies,
                                                               job_args.movies_for))


def _intake(p: beam.Pipeline, job_args: argparse.Namespace, plan: Plan, work_dir: str,
            groups=None):
    """Reading, validation, dead letters and the split, with their counts: (taken, train,
    eval, test). The raw eval and test reviews are written as CSV."""
    specs = plan.extra[_LABELLED]
    taken = p | 'ReadAndValidate' >> ReadAndValidate(
        specs, require_label=True, max_review_chars=job_args.max_review_chars,
        rejected_prefix=os.path.join(work_dir, schema.REJECTED_DIR, schema.REJECTED_PREFIX),
        reshuffle_records=job_args.reshuffle_records)
    train, evaluation, test = taken['accepted'] | 'Split' >> SplitTrainEval(
        job_args.eval_fraction, groups, job_args.test_fraction)
    raw_reviews = [(schema.EVAL_REVIEWS_DIR, schema.EVAL_PREFIX, evaluation)]
    if job_args.test_fraction:
        # Raw reviews only: nothing downstream of the split reads them but the score job.
        raw_reviews.append((schema.TEST_REVIEWS_DIR, schema.TEST_PREFIX, test))
    for folder, prefix, split in raw_reviews:
        _ = (split
             | f'ReviewRows[{prefix}]' >> beam.Map(_to_csv_row)
             | f'WriteReviews[{prefix}]' >> WriteCsv(os.path.join(work_dir, folder, prefix),
                                                     features.CSV_HEADER))
    counts = [*taken['counts'],
              train | 'CountTrain' >> CountAs('train'),
              evaluation | 'CountEval' >> CountAs('eval'),
              test | 'CountTest' >> CountAs(schema.TEST_PREFIX)]
    return taken, counts, train, evaluation, test


def build_intake(p: beam.Pipeline, job_args: argparse.Namespace, plan: Plan,
                 work_dir: str) -> None:
    """The job without tf.Transform: what runs when the full job failed, to say whether the
    data left nothing to train on (with every dead letter written)."""
    taken, counts, _, _, _ = _intake(p, job_args, plan, work_dir, _movie_groups(p, job_args))
    write_job_stats(counts, taken['input_stats'], os.path.join(work_dir, schema.STATS_DIR))


def nothing_to_train_on(counts: Dict[str, int]) -> Optional[str]:
    if counts.get('train', 0):
        return None
    return (f'no review is left to train on: {counts.get("read", 0)} read, '
            f'{counts.get("rejected", 0)} rejected, {counts.get("eval", 0)} in the eval split '
            f'and {counts.get(schema.TEST_PREFIX, 0)} in the test split')


def build(p: beam.Pipeline, job_args: argparse.Namespace, plan: Plan, work_dir: str) -> None:
    """Wires the preprocess graph into ``p``, writing under ``work_dir``; does not run it."""
    unlabeled_specs = plan.extra[_UNLABELED]
    rejected_dir = os.path.join(work_dir, schema.REJECTED_DIR)
    groups = _movie_groups(p, job_args)
    taken, split_counts, train, evaluation, test = _intake(p, job_args, plan, work_dir, groups)

    metadata = raw_metadata()
    # The rows to transform are read, validated and split a second time. tf.Transform
    # transforms only once the analysis of the whole train split is done; fed from the
    # first read, the train and eval splits would wait for it as collections held whole
    # (the DirectRunner keeps them in memory, and copies them once more to transform
    # them: about 4 KB a review), where a second read streams them. The split is a
    # function of each record (its id, or its movie), so both reads split alike.
    again = p | 'ReadAgain' >> ReadAndValidate(
        plan.extra[_LABELLED], require_label=True, max_review_chars=job_args.max_review_chars,
        reshuffle_records=job_args.reshuffle_records, again=True, repeats=taken['repeats'])
    train_again, eval_again, _ = again['accepted'] | 'SplitAgain' >> SplitTrainEval(
        job_args.eval_fraction, groups, job_args.test_fraction)
    # tf.Transform reads Arrow record batches made here (transforms/beam/record_batches.py):
    # from record dicts it would make them with a coder that grows by every review it encodes.
    batches = ToRecordBatches(metadata)
    config = batches.tensor_adapter_config()
    with tft_beam.Context(temp_dir=os.path.join(work_dir, _TFT_TEMP)):
        raw_train = (train | 'ToRawExample[Train]' >> beam.Map(_to_raw_example)
                     | 'ToRecordBatches[Train]' >> batches)
        transform_fn = ((raw_train, config) | 'Analyze[Train]' >> tft_beam.AnalyzeDataset(
            make_preprocessing_fn(transform_config(job_args))))
        train_again = (train_again | 'ToRawExampleAgain[Train]' >> beam.Map(_to_raw_example)
                       | 'ToRecordBatchesAgain[Train]' >> batches)
        train_data, train_metadata = (((train_again, config), transform_fn)
                                      | 'Transform[Train]' >> _transform())
        raw_eval = (eval_again | 'ToRawExample[Eval]' >> beam.Map(_to_raw_example)
                    | 'ToRecordBatches[Eval]' >> batches)
        eval_data, _ = (((raw_eval, config), transform_fn)
                        | 'Transform[Eval]' >> _transform())
        _ = transform_fn | 'WriteTransformFn' >> tft_beam.WriteTransformFn(work_dir)
        outputs_by_name = [(schema.TRAIN_PREFIX, train_data), (schema.EVAL_PREFIX, eval_data)]
        extra_counts, input_stats = [], [taken['input_stats']]
        if unlabeled_specs:
            # Text only: validated and transformed like the rest, but never analysed (the
            # vocabulary stays the train split's), labelled or split.
            untaken = p | 'ReadAndValidateUnlabeled' >> ReadAndValidate(
                unlabeled_specs, require_label=False,
                max_review_chars=job_args.max_review_chars,
                rejected_prefix=os.path.join(rejected_dir, schema.UNLABELED_PREFIX),
                reshuffle_records=job_args.reshuffle_records, count_reasons=False,
                count_names={READ: 'unlabeled_read', ACCEPTED: 'unlabeled',
                             REJECTED: 'unlabeled_rejected'})
            # Transformed from a second read, as the labelled splits are (see above).
            unlabeled_again = p | 'ReadAgainUnlabeled' >> ReadAndValidate(
                unlabeled_specs, require_label=False, max_review_chars=job_args.max_review_chars,
                reshuffle_records=job_args.reshuffle_records, again=True,
                repeats=untaken['repeats'])
            raw_unlabeled = (unlabeled_again['accepted']
                             | 'ToRawExample[Unlabeled]' >> beam.Map(_to_unlabeled_example)
                             | 'ToRecordBatches[Unlabeled]' >> batches)
            unlabeled_data, _ = (((raw_unlabeled, config), transform_fn)
                                 | 'Transform[Unlabeled]' >> _transform())
            outputs_by_name.append((schema.UNLABELED_PREFIX, unlabeled_data))
            input_stats.append(untaken['input_stats'])
            extra_counts = untaken['counts']

    for name, data in outputs_by_name:
        _ = ((data, train_metadata)
             | f'Encode[{name}]' >> tft_beam.EncodeTransformedDataset()
             | f'LogProgress[{name}]' >> beam.ParDo(LogProgress(f'{name} reviews transformed'))
             | f'Write[{name}]' >> beam.io.WriteToTFRecord(
            os.path.join(work_dir, name), file_name_suffix=schema.TFRECORD_SUFFIX))

    counts = [
        *split_counts,
        eval_data | 'EvalTokens' >> beam.Map(_column_sum, schema.NUM_TOKENS_KEY)
        | 'SumEvalTokens' >> SumAs('eval_tokens'),
        eval_data | 'EvalOov' >> beam.Map(_column_sum, schema.NUM_OOV_KEY)
        | 'SumEvalOov' >> SumAs('eval_oov_tokens'),
        *extra_counts,
    ]
    stats = os.path.join(work_dir, schema.STATS_DIR)
    all_input_stats = (input_stats[0] if len(input_stats) == 1 else
                       tuple(input_stats) | 'AllInputStats' >> beam.Flatten())
    write_job_stats(counts, all_input_stats, stats)


def _transform() -> beam.PTransform:
    """tf.Transform's transform, giving Arrow record batches: they are encoded as tf.Examples
    in C++ (``EncodeTransformedDataset``), where record dicts would be made one by one and
    encoded in Python (about 5% of the job's time at 25k reviews, profiled)."""
    return tft_beam.TransformDataset(output_record_batches=True)


def _column_sum(transformed, name: str) -> int:
    """The sum of a numeric feature over one of TransformDataset's (record batch, passthrough
    features) elements."""
    import pyarrow.compute as pc
    batch, _ = transformed
    return int(pc.sum(batch.column(name).flatten()).as_py() or 0)


def _without_labelled_files(labelled: Sequence[InputSpec],
                            unlabeled: Sequence[InputSpec]) -> List[InputSpec]:
    """The --unlabeled inputs less the files --input reads already: `--input aclImdb/train
    --unlabeled aclImdb/train` adds its unsup/ reviews only. A CSV read as both is a mistake."""
    taken = {f for s in labelled for f in s.files}
    kept = []
    for spec in unlabeled:
        files = tuple(f for f in spec.files if f not in taken)
        if len(files) < len(spec.files) and spec.format != ACLIMDB:
            raise InputError(f'--unlabeled {spec.path}: --input reads it already')
        if not files:
            raise InputError(f'--unlabeled {spec.path}: every review in it is read by --input')
        kept.append(dataclasses.replace(spec, files=files))
    return kept


def _check_movies(path: str, movies_for: str) -> None:
    """A usage error (exit 2) for a missing or unusable movies file, before the job starts."""
    found, _ = movies.check_movies(path, movies_for)
    if found.movie is None:
        raise InputError(f'--movies {path}: no movie (or group) column to split by')


def finish(work_dir: str, stats: Stats, manifest: Dict, job_args: argparse.Namespace,
           plan: Plan) -> None:
    """vocab.txt, and the manifest's transform and vocabulary blocks."""
    counts = {r['name']: r['value'] for r in stats['counts']}
    vocab_file = tft.TFTransformOutput(work_dir).vocabulary_file_by_name(schema.VOCAB_NAME)
    with FileSystems.open(vocab_file) as f:
        vocab = f.read()
    with FileSystems.create(os.path.join(work_dir, schema.VOCAB_FILE)) as f:
        f.write(vocab)
    eval_tokens = counts.get('eval_tokens', 0)
    manifest['counts'][schema.TEST_PREFIX] = counts.get(schema.TEST_PREFIX, 0)
    remove_paths([os.path.join(work_dir, _TFT_TEMP)])
    manifest['transform'] = dataclasses.asdict(transform_config(job_args))
    # What train reads, with sizes: a truncated or deleted file is a usage error before work.
    manifest[schema.OUTPUT_FILES_KEY] = output_files(work_dir)
    manifest['vocabulary'] = {
        'size': len(vocab.splitlines()), 'file': schema.VOCAB_FILE,
        'eval_token_coverage': round(1 - counts.get('eval_oov_tokens', 0) / eval_tokens, 6)
        if eval_tokens else None}


def read_by_trainer(rel: str) -> bool:
    """Whether the trainer reads this file of the output (a relative path, with '/'): the
    TFRecords and the transform graph with its assets."""
    return rel.endswith(schema.TFRECORD_SUFFIX) or rel.startswith(('transform_fn/',
                                                                   'transformed_metadata/'))


def output_files(work_dir: str) -> Dict[str, int]:
    """{relative path: bytes} of what the trainer reads (``read_by_trainer``), on a disk or
    an object store (one listing there; not the empty ``name/`` objects of TensorFlow's
    folders)."""
    found = {}
    if '://' in work_dir:
        root = work_dir.rstrip('/') + '/'
        for m in FileSystems.match([root + '**'])[0].metadata_list:
            rel = m.path[len(root):]
            if not rel.endswith('/') and read_by_trainer(rel):
                found[rel] = m.size_in_bytes
        return dict(sorted(found.items()))
    for folder, _, names in os.walk(work_dir):
        for name in names:
            rel = os.path.relpath(os.path.join(folder, name), work_dir).replace(os.sep, '/')
            if read_by_trainer(rel):
                found[rel] = os.path.getsize(os.path.join(folder, name))
    return dict(sorted(found.items()))


def summary(manifest: Dict, folder: str) -> None:
    c = manifest['counts']
    _LOG.info('Read %d, accepted %d (train %d, eval %d, test %d), rejected %d %s; '
              'vocabulary %d; %.1fs', c['read'], c['accepted'], c['train'], c['eval'],
              c.get(schema.TEST_PREFIX, 0), c['rejected'], c['rejected_by_reason'],
              manifest['vocabulary']['size'], manifest['wall_time_s'])
    if 'unlabeled_read' in c:
        _LOG.info('Unlabeled: read %d, kept %d, rejected %d (see rejected/%s-*.jsonl)',
                  c['unlabeled_read'], c.get('unlabeled', 0), c.get('unlabeled_rejected', 0),
                  schema.UNLABELED_PREFIX)


def check_memory(plan: Plan, job_args: argparse.Namespace, options: PipelineOptions) -> None:
    """On the DirectRunner: a warning past issue 21's bound, exit 2 past this machine's memory."""
    memory.check_direct_memory(NAME, [f for spec in plan.specs for f in spec.files],
                               options.view_as(StandardOptions).runner,
                               try_anyway=job_args.ignore_memory_estimate,
                               workers=local_cores.worker_processes(options))


def bundle_output(job_args: argparse.Namespace) -> float:
    """What the largest stage sends back per byte of input: the train split's transform."""
    return bundles.preprocess_output(
        1 - job_args.eval_fraction - (job_args.test_fraction or 0))


JOB = BeamJob(NAME, plan, build, finish, summary,
              fallback=Fallback(build_intake, nothing_to_train_on), check_resources=check_memory,
              bundle_output=bundle_output)


def main(job_args: argparse.Namespace, beam_args: List[str]) -> int:
    """Runs the parsed command; returns the exit code."""
    return run_beam_job(JOB, job_args, beam_args)


def run(argv: Sequence[str] = None) -> int:
    """``imdb-sentiment preprocess ARGV`` in this process."""
    return main(*flags.parse(NAME, argv or []))
