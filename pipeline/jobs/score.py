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
import copy
import logging
import os
from typing import Dict, List, Optional, Sequence

import apache_beam as beam

from analysis.score_summary import ScoreSummaryFn
from analysis.explain import ExplainFn
from pipeline import backfill, cli, flags, history, model_lookup, nightly
from pipeline.jobs import score_finish
from pipeline.launcher import BeamJob, Plan, run_beam_job
from transforms import schema
from transforms.beam import movies
from transforms.beam.inference import ReviewModelHandler
from transforms.beam.inputs import input_exists, resolve_inputs
from transforms.beam.intake import ACCEPTED, REJECTED, CountReasons, ReadAndValidate
from transforms.beam.sinks import CountAs, WriteJsonLines, write_job_stats
from transforms.beam.scoring import ScoreReviews, to_prediction
from transforms.errors import NoInputForDate, RejectFractionExceeded

_LOG = logging.getLogger(__name__)

NAME = 'score'
FALSE_POSITIVES = score_finish.FALSE_POSITIVES
FALSE_NEGATIVES = score_finish.FALSE_NEGATIVES
COVERAGE = 'coverage'
MODEL_DIR = 'model_dir'   # Plan.extra: the export used
# Two words, two things. A review that passes validation is *valid*; one that ends in the
# predictions is *accepted*, as the reconciliation counts (read = accepted + rejected). They
# differ: the model may still reject a valid review (a batch it fails on goes to the dead
# letters). So validation's own counts go under these names, apart from the reconciled ones.
VALID, INVALID = 'valid', 'invalid'


def _token_counts(keyed):
    """(tokens, tokens in the vocabulary) of a scored review, as the export's transform graph
    counted them; nothing from exports older than those outputs (no coverage then)."""
    inference = keyed[1].inference
    if schema.NUM_TOKENS_OUTPUT in inference:
        tokens = inference[schema.NUM_TOKENS_OUTPUT]
        yield tokens, tokens - inference[schema.NUM_OOV_OUTPUT]


def _sum_pairs(pairs):
    return tuple(map(sum, zip(*pairs))) or (0, 0)


def _is_error(kind: str):
    truth, predicted = ((schema.NEGATIVE, schema.POSITIVE) if kind == FALSE_POSITIVES
                        else (schema.POSITIVE, schema.NEGATIVE))
    return lambda r: r.get(schema.LABEL_KEY) == truth and r[schema.PREDICTED_KEY] == predicted


def plan(job_args: argparse.Namespace) -> Plan:
    model_dir = model_lookup.resolve_model(job_args.model)
    output, root, inputs = job_args.output, None, job_args.input
    if job_args.date is not None:
        job_args.date = nightly.parse_date(job_args.date)
        root = job_args.output = nightly.dated_output(job_args.output, job_args.date)
        output = nightly.partition_path(root, job_args.date)
        inputs = nightly.dated_inputs(job_args.input, job_args.date)
        for given, path in zip(job_args.input, inputs):
            if given != path and not input_exists(path):
                raise NoInputForDate(f'no input for {job_args.date}: {path} matches no file '
                                     f'(nothing written)')
    specs = resolve_inputs(inputs, include_unlabeled=True)
    rated = score_finish.check_movies(job_args.movies, job_args.movies_for, specs)
    if rated is not None:
        _LOG.info('Ratings for %d reviews from %s', rated, job_args.movies)
    _LOG.info('Scoring with %s', model_dir)
    return Plan(output=output, specs=specs, root=root,
                protected=[job_args.model, model_dir, job_args.movies],
                extra={MODEL_DIR: model_dir})


def take_reviews(p: beam.Pipeline, job_args: argparse.Namespace, plan: Plan,
                 require_label: bool):
    """The reviews a scoring job reads (score, evaluate): (ReadAndValidate's outputs, the
    valid reviews with their star rating attached when --movies gives one)."""
    taken = p | 'ReadAndValidate' >> ReadAndValidate(
        plan.specs, require_label=require_label, max_review_chars=job_args.max_review_chars,
        reshuffle_records=job_args.reshuffle_records, count_reasons=False,
        count_names={ACCEPTED: VALID, REJECTED: INVALID})
    valid = taken['accepted']   # what ReadAndValidate accepts is valid
    if job_args.movies:
        stars = movies.ratings(p | 'ReadMovies' >> movies.ReadMovies(job_args.movies,
                                                                     job_args.movies_for))
        valid = valid | 'AttachRatings' >> movies.AttachRatings(stars)
    return taken, valid


def write_rejected_and_counts(taken: Dict, scored: beam.PCollection,
                              model_rejected: Sequence[beam.PCollection], work_dir: str) -> None:
    """What a scoring job (score, evaluate) writes of where its reviews went: the dead letters
    (``take_reviews``' and the models'), and the counts that must reconcile: read = scored +
    rejected. ``taken``: ``take_reviews``' first result."""
    rejected = (taken['rejected'], *model_rejected) | 'AllRejected' >> beam.Flatten()
    _ = rejected | 'WriteRejected' >> WriteJsonLines(
        os.path.join(work_dir, schema.REJECTED_DIR, schema.REJECTED_PREFIX))
    counts = [*taken['counts'],
              scored | 'CountScored' >> CountAs(ACCEPTED),
              rejected | 'CountRejected' >> CountAs(REJECTED),
              rejected | 'CountReasons' >> CountReasons()]
    write_job_stats(counts, taken['input_stats'], os.path.join(work_dir, schema.STATS_DIR))


def build(p: beam.Pipeline, job_args: argparse.Namespace, plan: Plan, work_dir: str) -> None:
    """Wires the score graph into ``p``, writing under ``work_dir``; does not run it."""
    model_dir = plan.extra[MODEL_DIR]
    handler = ReviewModelHandler(model_dir, job_args.min_batch_size, job_args.max_batch_size)
    # Its dead letters are written below with the batches the model failed on.
    taken, valid = take_reviews(p, job_args, plan, require_label=False)
    result = valid | 'Score' >> ScoreReviews(handler)
    scored = result['scored']
    predictions = scored | 'ToPrediction' >> beam.Map(to_prediction)
    write_rejected_and_counts(taken, predictions, [result['rejected']], work_dir)

    written = predictions
    if not job_args.include_text:
        written = predictions | 'DropText' >> beam.Map(
            lambda r: {k: v for k, v in r.items() if k != schema.REVIEW_KEY})
    _ = written | 'WritePredictions' >> WriteJsonLines(
        os.path.join(work_dir, schema.PREDICTIONS_DIR, schema.PREDICTIONS_PREFIX))

    stats = os.path.join(work_dir, schema.STATS_DIR)
    _ = (predictions | 'Summarize' >> beam.CombineGlobally(ScoreSummaryFn())
         | 'WriteSummary' >> WriteJsonLines(os.path.join(stats, 'summary'), num_shards=1))
    max_words = model_lookup.token_length(model_dir)
    for kind in (FALSE_POSITIVES, FALSE_NEGATIVES):
        sign = 1 if kind == FALSE_POSITIVES else -1
        top = (predictions
               | f'Filter[{kind}]' >> beam.Filter(_is_error(kind))
               | f'Top[{kind}]' >> beam.combiners.Top.Of(
                   job_args.top_k, key=lambda r, s=sign: s * r[schema.PROBABILITY_KEY]))
        if job_args.explain:  # every review of the list, in large batches
            rows = top | f'Explain[{kind}]' >> beam.ParDo(
                ExplainFn(model_dir, schema.REVIEW_KEY, max_words))
        else:
            rows = top | f'Flatten[{kind}]' >> beam.FlatMap(lambda found: found)
        _ = rows | f'Write[{kind}]' >> WriteJsonLines(os.path.join(stats, kind), num_shards=1)

    if job_args.vocab_coverage:
        _ = (scored
             | 'TokenCounts' >> beam.FlatMap(_token_counts)
             | 'SumTokenCounts' >> beam.CombineGlobally(_sum_pairs).without_defaults()
             | 'CoverageToDict' >> beam.Map(lambda c: {'tokens': c[0], 'known_tokens': c[1]})
             | 'WriteCoverage' >> WriteJsonLines(os.path.join(stats, COVERAGE), num_shards=1))


def finish(work_dir: str, stats, manifest: Dict, job_args: argparse.Namespace,
           plan: Plan) -> None:
    score_finish.finish(work_dir, stats, manifest, job_args, model_dir=plan.extra[MODEL_DIR],
                        root=plan.root)


def summary(manifest: Dict, folder: str) -> None:
    _LOG.info('Scored %d reviews into %s (%d rejected)', manifest['counts']['predicted'],
              folder, manifest['counts']['rejected'])
    if manifest.get('drift'):
        skipped = manifest['drift']['skipped']
        _LOG.info('Drift against the night of %s%s', manifest['drift']['previous_date'],
                  ''.join(f'; skipped the damaged night {s["date"]} ({s["problem"]})'
                          for s in skipped))
    for alert in manifest.get('drift_alerts', []):
        _LOG.warning('Drift against the previous night: %s', alert)


JOB = BeamJob(NAME, plan, build, finish, summary)


def main(job_args: argparse.Namespace, beam_args: List[str]) -> int:
    """Runs the parsed command (one night, or with --dates a backfill); returns the exit code."""
    if job_args.dates:
        return _backfill(job_args, beam_args)
    if job_args.date is None:
        nightly.dated_output(job_args.output, None)  # refuses a '{date}' nothing fills in
        return run_beam_job(JOB, job_args, beam_args)
    try:
        code = run_beam_job(JOB, job_args, beam_args)
    except RejectFractionExceeded:
        history.write_history(job_args.output)  # the night is kept as it was, and shown
        raise
    history.write_history(job_args.output)
    return code


def _backfill(job_args: argparse.Namespace, beam_args: List[str]) -> int:
    """Every date of --dates in order, each its own night with one model (resolved once)."""
    dates = nightly.date_range(job_args.dates)
    model_dir = model_lookup.resolve_model(job_args.model)
    used = model_lookup.describe(model_dir)
    _LOG.info('Backfill of %d dates (%s to %s) with %s', len(dates), dates[0], dates[-1],
              model_dir)

    def skip(date: str) -> Optional[str]:
        root = nightly.dated_output(job_args.output, date)
        manifest = nightly.scored_with(nightly.partition_path(root, date))
        if not manifest or not model_lookup.same_model(manifest['model'], used):
            return None
        stale = nightly.stale_drift(root, date, manifest)
        if stale:
            _LOG.info('%s: scored again: %s', date, stale)
            return None
        return 'already scored with this model'

    def run_date(date: str) -> int:
        night = copy.copy(job_args)
        night.date, night.dates, night.force, night.model = date, None, False, model_dir
        return cli.invoke(NAME, night, beam_args)

    return backfill.backfill(dates, skip, run_date, job_args.force)


def run(argv: Sequence[str] = None) -> int:
    """``imdb-sentiment score ARGV`` in this process."""
    return main(*flags.parse(NAME, argv or []))
