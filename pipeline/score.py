"""The score job: any review dataset -> predictions, metrics and an error-analysis report.

Locally (DirectRunner):

  imdb-sentiment score --input ../shared/data/imdb/train.csv --model out/model --output out/score

With the star ratings of the CSV's rows, for the error-by-rating slice:

  imdb-sentiment score --input ../shared/data/imdb/train.csv --model out/model --output out/score \\
      --ratings ../shared/data/imdb/train_movies.csv --ratings-for train.csv

On Dataflow, with the workers installed from our setup.py (the model folder must
be readable by the workers, e.g. on gs://):

  imdb-sentiment score --input gs://B/new/*.csv --model gs://B/model --output gs://B/score \\
      --runner=DataflowRunner --project=P --region=R --temp_location=gs://B/tmp \\
      --setup_file=./setup.py

Outputs under --output: predictions/predictions-*.jsonl, metrics.json,
report.html, rejected/rejected-*.jsonl and manifest.json.
"""

import logging
import os
from typing import Dict, Optional, Sequence

import apache_beam as beam
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from analysis.combiners import ScoreSummaryFn
from analysis.explain import ExplainFn
from pipeline.launcher import launch, raise_if_failed
from pipeline.options import InputOptions, ScoreOptions, parse_job_args
from transforms import features
from transforms.inference import LABEL, PROBABILITY, ReviewModelHandler
from transforms.inputs import InputSpec, input_paths, resolve_inputs
from transforms.output_guard import check_output
from transforms.ratings import AttachRatings, ReadRatings
from transforms.intake import ACCEPTED, REJECTED, CountReasons, ReadAndValidate
from transforms.sinks import CountAs, WriteJsonLines, write_job_stats
from transforms.validation import rejection

_LOG = logging.getLogger(__name__)
_META = (features.ID_KEY, features.SOURCE_KEY, features.LABEL_KEY, features.RATING_KEY)
FALSE_POSITIVES = 'false_positives'
FALSE_NEGATIVES = 'false_negatives'
COVERAGE = 'coverage'


def _key(record: Dict):
    """RunInference input: (the record's metadata, its review text)."""
    return {k: record.get(k) for k in _META}, record[features.REVIEW_KEY]


def _prediction(keyed) -> Dict:
    meta, result = keyed
    row = {features.ID_KEY: meta[features.ID_KEY],
           features.PROBABILITY_KEY: result.inference[PROBABILITY],
           features.PREDICTED_KEY: result.inference[LABEL],
           features.REVIEW_KEY: result.example}
    for key in (features.LABEL_KEY, features.RATING_KEY):
        if meta.get(key) is not None:
            row[key] = meta[key]
    return row


def _token_counts(keyed):
    """(tokens, tokens in the vocabulary) of a scored review, as the export's transform graph
    counted them; nothing from exports older than those outputs (no coverage then)."""
    inference = keyed[1].inference
    if features.NUM_TOKENS_OUTPUT in inference:
        tokens = inference[features.NUM_TOKENS_OUTPUT]
        yield tokens, tokens - inference[features.NUM_OOV_OUTPUT]


def _sum_pairs(pairs):
    return tuple(map(sum, zip(*pairs))) or (0, 0)


def _failed_batch(failure):
    """(failed batch of (meta, text), exception) -> one dead-letter row per review."""
    batch, error = failure
    for meta, text in batch:
        yield rejection(dict(meta, raw=text), features.REASON_INFERENCE_FAILED,
                        f'{type(error).__name__}: {error}'[:500])


def _is_error(kind: str):
    truth, predicted = ((features.NEGATIVE, features.POSITIVE) if kind == FALSE_POSITIVES
                        else (features.POSITIVE, features.NEGATIVE))
    return lambda r: r.get(features.LABEL_KEY) == truth and r[features.PREDICTED_KEY] == predicted


def build_pipeline(p: beam.Pipeline, options: PipelineOptions, specs: Sequence[InputSpec],
                   work_dir: str, handler: ReviewModelHandler = None,
                   model_dir: Optional[str] = None) -> None:
    """Wires the score graph into ``p``, writing under ``work_dir``; does not run it.

    ``model_dir`` is the export to use (default: --model as given)."""
    job = options.view_as(ScoreOptions)
    model_dir = model_dir or job.model
    handler = handler or ReviewModelHandler(model_dir, job.min_batch_size, job.max_batch_size)
    inputs = options.view_as(InputOptions)
    # Its dead letters are written below with the batches the model failed on.
    taken = p | 'ReadAndValidate' >> ReadAndValidate(
        specs, require_label=False, max_review_chars=inputs.max_review_chars,
        reshuffle_records=inputs.reshuffle_records, count_reasons=False,
        count_names={ACCEPTED: 'valid', REJECTED: 'invalid'})
    accepted = taken['accepted']
    if job.ratings:
        ratings = p | 'ReadRatings' >> ReadRatings(job.ratings, job.ratings_for)
        accepted = accepted | 'AttachRatings' >> AttachRatings(ratings)
    scored, failed = (accepted
                      | 'KeyByRecord' >> beam.Map(_key)
                      | 'Score' >> RunInference(KeyedModelHandler(handler)).with_exception_handling())
    predictions = scored | 'ToPrediction' >> beam.Map(_prediction)
    rejected = ((taken['rejected'],
                 failed.failed_inferences | 'FailedBatches' >> beam.FlatMap(_failed_batch))
                | 'AllRejected' >> beam.Flatten())

    written = predictions
    if not job.include_text:
        written = predictions | 'DropText' >> beam.Map(
            lambda r: {k: v for k, v in r.items() if k != features.REVIEW_KEY})
    _ = written | 'WritePredictions' >> WriteJsonLines(
        os.path.join(work_dir, features.PREDICTIONS_DIR, features.PREDICTIONS_PREFIX))
    _ = rejected | 'WriteRejected' >> WriteJsonLines(
        os.path.join(work_dir, features.REJECTED_DIR, features.REJECTED_PREFIX))

    stats = os.path.join(work_dir, features.STATS_DIR)
    _ = (predictions | 'Summarize' >> beam.CombineGlobally(ScoreSummaryFn())
         | 'WriteSummary' >> WriteJsonLines(os.path.join(stats, 'summary'), num_shards=1))
    for kind in (FALSE_POSITIVES, FALSE_NEGATIVES):
        sign = 1 if kind == FALSE_POSITIVES else -1
        top = (predictions
               | f'Filter[{kind}]' >> beam.Filter(_is_error(kind))
               | f'Top[{kind}]' >> beam.combiners.Top.Of(
                   job.top_k, key=lambda r, s=sign: s * r[features.PROBABILITY_KEY])
               | f'Flatten[{kind}]' >> beam.FlatMap(lambda rows: rows))
        if job.explain:
            top = top | f'Explain[{kind}]' >> beam.ParDo(
                ExplainFn(model_dir, features.REVIEW_KEY))
        _ = top | f'Write[{kind}]' >> WriteJsonLines(os.path.join(stats, kind), num_shards=1)

    if job.vocab_coverage:
        _ = (scored
             | 'TokenCounts' >> beam.FlatMap(_token_counts)
             | 'SumTokenCounts' >> beam.CombineGlobally(_sum_pairs).without_defaults()
             | 'CoverageToDict' >> beam.Map(lambda c: {'tokens': c[0], 'known_tokens': c[1]})
             | 'WriteCoverage' >> WriteJsonLines(os.path.join(stats, COVERAGE), num_shards=1))

    counts = [*taken['counts'],
              predictions | 'CountPredicted' >> CountAs(ACCEPTED),
              rejected | 'CountRejected' >> CountAs(REJECTED),
              rejected | 'CountReasons' >> CountReasons()]
    write_job_stats(counts, taken['input_stats'], stats)


def run(argv: Sequence[str] = None) -> int:
    """Parses the command line, runs the job, publishes the output. Returns the exit code."""
    from pipeline import nightly
    from pipeline.score_outputs import check_model, check_ratings, finish
    job_args, beam_args = parse_job_args('imdb-sentiment score', __doc__, (InputOptions, ScoreOptions),
                                          argv or [])
    model_dir = nightly.resolve_model(job_args.model)
    check_model(model_dir)
    output, previous = job_args.output, None
    if job_args.date is not None:
        job_args.date = nightly.parse_date(job_args.date)
        output = nightly.partition_path(job_args.output, job_args.date)
        previous = nightly.previous_partition(job_args.output, job_args.date)
    options = PipelineOptions(list(argv or []))
    specs = resolve_inputs(job_args.input, include_unlabeled=True)
    check_output(output, 'score', protected=[
        *input_paths(specs), job_args.model, model_dir, job_args.ratings])
    rated = check_ratings(job_args.ratings, job_args.ratings_for, specs)
    if rated is not None:
        _LOG.info('Ratings for %d reviews from %s', rated, job_args.ratings)
    _LOG.info('Scoring %d input(s) with %s into %s', len(specs), model_dir, output)
    manifest = launch(
        'score', output, options, specs, job_args, beam_args,
        lambda p, work_dir: build_pipeline(p, options, specs, work_dir, model_dir=model_dir),
        lambda work_dir, stats, manifest: finish(work_dir, stats, manifest, job_args,
                                                 model_dir=model_dir, previous=previous))
    if manifest is None:
        return 0
    _LOG.info('Scored %d reviews into %s (%d rejected)', manifest['counts']['predicted'], output,
              manifest['counts']['rejected'])
    for alert in manifest.get('drift_alerts', []):
        _LOG.warning('Drift against the previous night: %s', alert)
    return raise_if_failed(manifest)
