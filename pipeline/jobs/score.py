"""The score job: any review dataset -> predictions, metrics and an error-analysis report.

Locally (DirectRunner):

  imdb-sentiment score --input ../shared/data/imdb/train.csv --model out/model --output out/score

With the star ratings of the CSV's rows, for the error-by-rating slice:

  imdb-sentiment score --input ../shared/data/imdb/train.csv --model out/model --output out/score \\
      --movies ../shared/data/imdb/train_movies.csv --movies-for train.csv

On Dataflow, with the workers installed from our setup.py (the model folder must
be readable by the workers, e.g. on gs://):

  imdb-sentiment score --input gs://B/new/*.csv --model gs://B/model --output gs://B/score \\
      --runner=DataflowRunner --project=P --region=R --temp_location=gs://B/tmp \\
      --setup_file=./setup.py

Outputs under --output: predictions/predictions-*.jsonl, metrics.json,
report.html, rejected/rejected-*.jsonl and manifest.json.
"""

import argparse
import logging
import os
from typing import Dict, List, Sequence

import apache_beam as beam
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

from analysis.combiners import ScoreSummaryFn
from analysis.explain import ExplainFn
from pipeline import flags, models, nightly
from pipeline.jobs import score_finish
from pipeline.launcher import BeamJob, Plan, run_beam_job
from transforms import schema
from transforms.beam import movies
from transforms.beam.inference import LABEL, PROBABILITY, ReviewModelHandler
from transforms.beam.inputs import resolve_inputs
from transforms.beam.intake import ACCEPTED, REJECTED, CountReasons, ReadAndValidate
from transforms.beam.sinks import CountAs, WriteJsonLines, write_job_stats
from transforms.beam.validate import rejection

_LOG = logging.getLogger(__name__)

NAME = 'score'
_META = (schema.ID_KEY, schema.SOURCE_KEY, schema.LABEL_KEY, schema.RATING_KEY)
FALSE_POSITIVES = score_finish.FALSE_POSITIVES
FALSE_NEGATIVES = score_finish.FALSE_NEGATIVES
COVERAGE = 'coverage'
MODEL_DIR, PREVIOUS = 'model_dir', 'previous'   # Plan.extra: the export used, the night before


def _key(record: Dict):
    """RunInference input: (the record's metadata, its review text)."""
    return {k: record.get(k) for k in _META}, record[schema.REVIEW_KEY]


def _prediction(keyed) -> Dict:
    meta, result = keyed
    row = {schema.ID_KEY: meta[schema.ID_KEY],
           schema.PROBABILITY_KEY: result.inference[PROBABILITY],
           schema.PREDICTED_KEY: result.inference[LABEL],
           schema.REVIEW_KEY: result.example}
    for key in (schema.LABEL_KEY, schema.RATING_KEY):
        if meta.get(key) is not None:
            row[key] = meta[key]
    return row


def _token_counts(keyed):
    """(tokens, tokens in the vocabulary) of a scored review, as the export's transform graph
    counted them; nothing from exports older than those outputs (no coverage then)."""
    inference = keyed[1].inference
    if schema.NUM_TOKENS_OUTPUT in inference:
        tokens = inference[schema.NUM_TOKENS_OUTPUT]
        yield tokens, tokens - inference[schema.NUM_OOV_OUTPUT]


def _sum_pairs(pairs):
    return tuple(map(sum, zip(*pairs))) or (0, 0)


def _failed_batch(failure):
    """(failed batch of (meta, text), exception) -> one dead-letter row per review."""
    batch, error = failure
    for meta, text in batch:
        yield rejection(dict(meta, raw=text), schema.REASON_INFERENCE_FAILED,
                        f'{type(error).__name__}: {error}'[:500])


def _is_error(kind: str):
    truth, predicted = ((schema.NEGATIVE, schema.POSITIVE) if kind == FALSE_POSITIVES
                        else (schema.POSITIVE, schema.NEGATIVE))
    return lambda r: r.get(schema.LABEL_KEY) == truth and r[schema.PREDICTED_KEY] == predicted


def plan(job_args: argparse.Namespace) -> Plan:
    model_dir = models.resolve_model(job_args.model)
    models.check_model(model_dir)
    output, previous, root = job_args.output, None, None
    if job_args.date is not None:
        root = job_args.output
        job_args.date = nightly.parse_date(job_args.date)
        output = nightly.partition_path(job_args.output, job_args.date)
        previous = nightly.previous_partition(job_args.output, job_args.date)
    specs = resolve_inputs(job_args.input, include_unlabeled=True)
    rated = score_finish.check_movies(job_args.movies, job_args.movies_for, specs)
    if rated is not None:
        _LOG.info('Ratings for %d reviews from %s', rated, job_args.movies)
    _LOG.info('Scoring with %s', model_dir)
    return Plan(output=output, specs=specs, root=root,
                protected=[job_args.model, model_dir, job_args.movies],
                extra={MODEL_DIR: model_dir, PREVIOUS: previous})


def build(p: beam.Pipeline, job_args: argparse.Namespace, plan: Plan, work_dir: str) -> None:
    """Wires the score graph into ``p``, writing under ``work_dir``; does not run it."""
    model_dir = plan.extra[MODEL_DIR]
    handler = ReviewModelHandler(model_dir, job_args.min_batch_size, job_args.max_batch_size)
    # Its dead letters are written below with the batches the model failed on.
    taken = p | 'ReadAndValidate' >> ReadAndValidate(
        plan.specs, require_label=False, max_review_chars=job_args.max_review_chars,
        reshuffle_records=job_args.reshuffle_records, count_reasons=False,
        count_names={ACCEPTED: 'valid', REJECTED: 'invalid'})
    accepted = taken['accepted']
    if job_args.movies:
        stars = movies.ratings(p | 'ReadMovies' >> movies.ReadMovies(job_args.movies,
                                                                     job_args.movies_for))
        accepted = accepted | 'AttachRatings' >> movies.AttachRatings(stars)
    scored, failed = (accepted
                      | 'KeyByRecord' >> beam.Map(_key)
                      | 'Score' >> RunInference(KeyedModelHandler(handler)).with_exception_handling())
    predictions = scored | 'ToPrediction' >> beam.Map(_prediction)
    rejected = ((taken['rejected'],
                 failed.failed_inferences | 'FailedBatches' >> beam.FlatMap(_failed_batch))
                | 'AllRejected' >> beam.Flatten())

    written = predictions
    if not job_args.include_text:
        written = predictions | 'DropText' >> beam.Map(
            lambda r: {k: v for k, v in r.items() if k != schema.REVIEW_KEY})
    _ = written | 'WritePredictions' >> WriteJsonLines(
        os.path.join(work_dir, schema.PREDICTIONS_DIR, schema.PREDICTIONS_PREFIX))
    _ = rejected | 'WriteRejected' >> WriteJsonLines(
        os.path.join(work_dir, schema.REJECTED_DIR, schema.REJECTED_PREFIX))

    stats = os.path.join(work_dir, schema.STATS_DIR)
    _ = (predictions | 'Summarize' >> beam.CombineGlobally(ScoreSummaryFn())
         | 'WriteSummary' >> WriteJsonLines(os.path.join(stats, 'summary'), num_shards=1))
    for kind in (FALSE_POSITIVES, FALSE_NEGATIVES):
        sign = 1 if kind == FALSE_POSITIVES else -1
        top = (predictions
               | f'Filter[{kind}]' >> beam.Filter(_is_error(kind))
               | f'Top[{kind}]' >> beam.combiners.Top.Of(
                   job_args.top_k, key=lambda r, s=sign: s * r[schema.PROBABILITY_KEY])
               | f'Flatten[{kind}]' >> beam.FlatMap(lambda rows: rows))
        if job_args.explain:
            top = top | f'Explain[{kind}]' >> beam.ParDo(
                ExplainFn(model_dir, schema.REVIEW_KEY))
        _ = top | f'Write[{kind}]' >> WriteJsonLines(os.path.join(stats, kind), num_shards=1)

    if job_args.vocab_coverage:
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


def finish(work_dir: str, stats, manifest: Dict, job_args: argparse.Namespace,
           plan: Plan) -> None:
    score_finish.finish(work_dir, stats, manifest, job_args, model_dir=plan.extra[MODEL_DIR],
                        previous=plan.extra[PREVIOUS])


def summary(manifest: Dict, folder: str) -> None:
    _LOG.info('Scored %d reviews into %s (%d rejected)', manifest['counts']['predicted'],
              folder, manifest['counts']['rejected'])
    for alert in manifest.get('drift_alerts', []):
        _LOG.warning('Drift against the previous night: %s', alert)


JOB = BeamJob(NAME, plan, build, finish, summary)


def main(job_args: argparse.Namespace, beam_args: List[str]) -> int:
    """Runs the parsed command; returns the exit code."""
    return run_beam_job(JOB, job_args, beam_args)


def run(argv: Sequence[str] = None) -> int:
    """``imdb-sentiment score ARGV`` in this process."""
    return main(*flags.parse(NAME, argv or []))
