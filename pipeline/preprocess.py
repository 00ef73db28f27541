"""The preprocess job: raw reviews -> validated, cleaned, tf.Transform'ed TFRecords.

Locally (DirectRunner):

  imdb-sentiment preprocess --input ../shared/data/imdb/train.csv --output out/preprocess

On Dataflow, the same code with the workers installed from our setup.py:

  imdb-sentiment preprocess --input gs://BUCKET/imdb/*.csv --output gs://BUCKET/out/preprocess \\
      --runner=DataflowRunner --project=P --region=R \\
      --temp_location=gs://BUCKET/tmp --setup_file=./setup.py

Split by movie, so that no movie is on both sides (the shared data's row,movie file):

  imdb-sentiment preprocess --input ../shared/data/imdb/train.csv --output out/preprocess \\
      --groups ../shared/data/imdb/train_movies.csv --groups-for train.csv

With unlabeled reviews as well, for the trainer's word vectors:

  imdb-sentiment preprocess --input ../shared/data/imdb/train.csv --output out/preprocess \
      --unlabeled ../shared/data/imdb/unsup.csv

Outputs under --output: train-*.tfrecord.gz and eval-*.tfrecord.gz (transformed
examples: token_ids, and with --ngram-max > 0 ngram_ids), unlabeled-*.tfrecord.gz
with --unlabeled (label -1), transform_fn/ and transformed_metadata/ (the
tf.Transform graph), vocab.txt, eval_reviews/eval-*.csv (the eval split's raw
reviews with their ids, for scoring), with --test-fraction test_reviews/test-*.csv
(the test split's raw reviews: scored, never transformed or trained on), rejected/rejected-*.jsonl and
rejected/unlabeled-*.jsonl (dead letters) and manifest.json.
"""

import dataclasses
import logging
import os
from typing import Dict, List, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from transforms import outputs
from pipeline.options import CleaningOptions, InputOptions, PreprocessOptions, cleaning_config, \
    parse_job_args
from pipeline.launcher import launch, raise_if_failed
from transforms import features
from transforms.errors import InputError
from transforms.inputs import ACLIMDB, InputSpec, input_paths, resolve_inputs
from transforms.output_guard import check_output
from transforms.progress import Heartbeat, LogProgress
from transforms.intake import ACCEPTED, READ, REJECTED, ReadAndValidate
from transforms.sinks import CountAs, SumAs, WriteCsv, write_job_stats
from transforms.split import GroupsFormatError, ReadGroups, SplitTrainEval, groups_layout, \
    read_groups_header

_LOG = logging.getLogger(__name__)

_TFT_TEMP = '_tft_tmp'


def transform_config(job, cleaning):
    """From PreprocessOptions and CleaningOptions (or parsed flags with the same names)."""
    from transforms.preprocessing import TransformConfig
    return TransformConfig(
        cleaning=cleaning_config(cleaning),
        max_tokens=job.max_tokens, vocab_top_k=job.vocab_size,
        frequency_threshold=job.min_frequency, num_oov_buckets=job.oov_buckets,
        truncate=job.truncate, ngram_max=job.ngram_max,
        ngram_vocab_top_k=job.ngram_vocab_size,
        ngram_frequency_threshold=job.ngram_min_frequency)


def _to_raw_example(record: Dict) -> Dict:
    return {features.ID_KEY: record[features.ID_KEY],
            features.REVIEW_KEY: record[features.REVIEW_KEY],
            features.LABEL_KEY: features.LABEL_TO_INT[record[features.LABEL_KEY]]}


def _to_unlabeled_example(record: Dict) -> Dict:
    return {features.ID_KEY: record[features.ID_KEY],
            features.REVIEW_KEY: record[features.REVIEW_KEY],
            features.LABEL_KEY: features.UNLABELED_ID}


def build_pipeline(p: beam.Pipeline, options: PipelineOptions, specs: Sequence[InputSpec],
                   work_dir: str, unlabeled_specs: Sequence[InputSpec] = ()) -> None:
    """Wires the preprocess graph into ``p``, writing under ``work_dir``; does not run it."""
    # tf.Transform loads TensorFlow: imported here, so that --help stays fast.
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from transforms.preprocessing import make_preprocessing_fn, raw_metadata
    job = options.view_as(PreprocessOptions)
    inputs = options.view_as(InputOptions)
    rejected_dir = os.path.join(work_dir, features.REJECTED_DIR)
    taken = p | 'ReadAndValidate' >> ReadAndValidate(
        specs, require_label=True, max_review_chars=inputs.max_review_chars,
        rejected_prefix=os.path.join(rejected_dir, features.REJECTED_PREFIX),
        reshuffle_records=inputs.reshuffle_records)
    groups = (p | 'ReadGroups' >> ReadGroups(job.groups, job.groups_for)) if job.groups else None
    train, evaluation, test = taken['accepted'] | 'Split' >> SplitTrainEval(
        job.eval_fraction, groups, job.test_fraction)
    raw_reviews = [(features.EVAL_REVIEWS_DIR, features.EVAL_PREFIX, evaluation)]
    if job.test_fraction:
        # Raw reviews only: nothing downstream of the split reads them but the score job.
        raw_reviews.append((features.TEST_REVIEWS_DIR, features.TEST_PREFIX, test))
    for folder, prefix, split in raw_reviews:
        _ = (split
             | f'ReviewRows[{prefix}]' >> beam.Map(lambda r: [r[k] for k in (
                 features.ID_KEY, features.REVIEW_KEY, features.LABEL_KEY)])
             | f'WriteReviews[{prefix}]' >> WriteCsv(os.path.join(work_dir, folder, prefix),
                                                     features.CSV_COLUMNS))

    metadata = raw_metadata()
    with tft_beam.Context(temp_dir=os.path.join(work_dir, _TFT_TEMP)):
        raw_train = train | 'ToRawExample[Train]' >> beam.Map(_to_raw_example)
        raw_eval = evaluation | 'ToRawExample[Eval]' >> beam.Map(_to_raw_example)
        (train_data, train_metadata), transform_fn = (
            (raw_train, metadata)
            | 'AnalyzeAndTransform[Train]' >> tft_beam.AnalyzeAndTransformDataset(
                make_preprocessing_fn(transform_config(job, options.view_as(CleaningOptions)))))
        eval_data, _ = (((raw_eval, metadata), transform_fn)
                        | 'Transform[Eval]' >> tft_beam.TransformDataset())
        _ = transform_fn | 'WriteTransformFn' >> tft_beam.WriteTransformFn(work_dir)
        outputs_by_name = [(features.TRAIN_PREFIX, train_data), (features.EVAL_PREFIX, eval_data)]
        extra_counts, input_stats = [], [taken['input_stats']]
        if unlabeled_specs:
            # Text only: validated and transformed like the rest, but never analysed (the
            # vocabulary stays the train split's), labelled or split.
            untaken = p | 'ReadAndValidateUnlabeled' >> ReadAndValidate(
                unlabeled_specs, require_label=False, max_review_chars=inputs.max_review_chars,
                rejected_prefix=os.path.join(rejected_dir, features.UNLABELED_PREFIX),
                reshuffle_records=inputs.reshuffle_records, count_reasons=False,
                count_names={READ: 'unlabeled_read', ACCEPTED: 'unlabeled',
                             REJECTED: 'unlabeled_rejected'})
            raw_unlabeled = untaken['accepted'] | 'ToRawExample[Unlabeled]' >> beam.Map(
                _to_unlabeled_example)
            unlabeled_data, _ = (((raw_unlabeled, metadata), transform_fn)
                                 | 'Transform[Unlabeled]' >> tft_beam.TransformDataset())
            outputs_by_name.append((features.UNLABELED_PREFIX, unlabeled_data))
            input_stats.append(untaken['input_stats'])
            extra_counts = untaken['counts']

    coder = tft.coders.ExampleProtoCoder(train_metadata.schema)
    for name, data in outputs_by_name:
        _ = (data
             | f'LogProgress[{name}]' >> beam.ParDo(LogProgress(f'{name} reviews transformed'))
             | f'Write[{name}]' >> beam.io.WriteToTFRecord(
            os.path.join(work_dir, name), coder=coder, file_name_suffix=features.TFRECORD_SUFFIX))

    counts = [
        *taken['counts'],
        train | 'CountTrain' >> CountAs('train'),
        evaluation | 'CountEval' >> CountAs('eval'),
        test | 'CountTest' >> CountAs(features.TEST_PREFIX),
        eval_data | 'EvalTokens' >> beam.Map(lambda e: e[features.NUM_TOKENS_KEY])
        | 'SumEvalTokens' >> SumAs('eval_tokens'),
        eval_data | 'EvalOov' >> beam.Map(lambda e: e[features.NUM_OOV_KEY])
        | 'SumEvalOov' >> SumAs('eval_oov_tokens'),
        *extra_counts,
    ]
    stats = os.path.join(work_dir, features.STATS_DIR)
    all_input_stats = (input_stats[0] if len(input_stats) == 1 else
                       tuple(input_stats) | 'AllInputStats' >> beam.Flatten())
    write_job_stats(counts, all_input_stats, stats)


def run(argv: Sequence[str] = None) -> int:
    """Parses the command line, runs the job, publishes the output. Returns the exit code."""
    job_args, beam_args = parse_job_args(
        'imdb-sentiment preprocess', __doc__, (InputOptions, PreprocessOptions, CleaningOptions),
        argv or [])
    options = PipelineOptions(list(argv or []))
    specs = resolve_inputs(job_args.input)
    unlabeled = (resolve_inputs(job_args.unlabeled, include_unlabeled=True)
                 if job_args.unlabeled else [])
    unlabeled = _without_labelled_files(specs, unlabeled)
    if job_args.groups:
        _check_groups(job_args.groups, job_args.groups_for)
    check_output(job_args.output, 'preprocess',
                 protected=[*input_paths(specs + unlabeled), job_args.groups])
    _LOG.info('Preprocessing %d input(s): %s', len(specs), ', '.join(s.path for s in specs))
    with Heartbeat('preprocess'):
        manifest = launch(
            'preprocess', job_args.output, options, specs + unlabeled, job_args, beam_args,
            lambda p, work_dir: build_pipeline(p, options, specs, work_dir, unlabeled),
            lambda work_dir, stats, manifest: _finish(work_dir, stats, manifest, job_args))
    if manifest is not None:
        _log_summary(manifest)
    return raise_if_failed(manifest)


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


def _check_groups(path: str, groups_for: str) -> None:
    """A usage error (exit 2) for a missing or unreadable grouping file, before the job starts."""
    if not FileSystems.exists(path):
        raise InputError(f'--groups {path}: no such file')
    try:
        groups_layout(read_groups_header(path), groups_for)
    except (GroupsFormatError, UnicodeDecodeError) as e:
        raise InputError(f'--groups {path}: {e}') from None


def _finish(work_dir: str, stats: Dict[str, List[Dict]], manifest: Dict, job_args) -> None:
    """vocab.txt, and the manifest's transform and vocabulary blocks."""
    import tensorflow_transform as tft
    counts = {r['name']: r['value'] for r in stats['counts']}
    vocab_file = tft.TFTransformOutput(work_dir).vocabulary_file_by_name(features.VOCAB_NAME)
    with FileSystems.open(vocab_file) as f:
        vocab = f.read()
    with FileSystems.create(os.path.join(work_dir, features.VOCAB_FILE)) as f:
        f.write(vocab)
    eval_tokens = counts.get('eval_tokens', 0)
    manifest['counts'][features.TEST_PREFIX] = counts.get(features.TEST_PREFIX, 0)
    outputs.remove_paths([os.path.join(work_dir, _TFT_TEMP)])
    manifest['transform'] = dataclasses.asdict(transform_config(job_args, job_args))
    manifest['vocabulary'] = {
        'size': len(vocab.splitlines()), 'file': features.VOCAB_FILE,
        'eval_token_coverage': round(1 - counts.get('eval_oov_tokens', 0) / eval_tokens, 6)
        if eval_tokens else None}


def _log_summary(manifest: Dict) -> None:
    c = manifest['counts']
    _LOG.info('Read %d, accepted %d (train %d, eval %d, test %d), rejected %d %s; '
              'vocabulary %d; %.1fs', c['read'], c['accepted'], c['train'], c['eval'],
              c.get(features.TEST_PREFIX, 0), c['rejected'], c['rejected_by_reason'],
              manifest['vocabulary']['size'], manifest['wall_time_s'])
    if 'unlabeled_read' in c:
        _LOG.info('Unlabeled: read %d, kept %d, rejected %d (see rejected/%s-*.jsonl)',
                  c['unlabeled_read'], c.get('unlabeled', 0), c.get('unlabeled_rejected', 0),
                  features.UNLABELED_PREFIX)
