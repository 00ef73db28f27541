"""The evaluate job, the model gate: a candidate and a baseline scored on the same labelled
reviews, compared, and the candidate blessed or not.

  imdb-sentiment evaluate --candidate /models/4 --baseline /models --data labelled.csv \\
      --output out/evaluate

--baseline names an export, or a model registry (its champion). Without one, the verdict rests
on the absolute floor alone. Both models score each review in one pass over the data (two
RunInference steps, no shuffle); Beam combiners reduce the pairs to each model's metrics
summary and to the counts of McNemar's paired test. The thresholds (flags) follow TFX's
Evaluator: a candidate is blessed only when every one holds.

Outputs under --output: comparison.json (metrics side by side, per-slice deltas, the paired
test), verdict.json (blessed or not, each check with its reason), report.html,
rejected/rejected-*.jsonl and manifest.json. Exit code 0: blessed; 4: not blessed. When the
candidate is a version of a registry, the verdict is also recorded there
(REGISTRY/blessings/<version>.json), which `imdb-sentiment models promote` reads.
"""

import argparse
import logging
import os
from typing import Dict, List, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from analysis import gate, metrics
from analysis.score_summary import ScoreSummaryFn
from analysis.gate_report import render_gate_report
from pipeline import flags, model_lookup, registry
from pipeline.jobs import score_finish
from pipeline.jobs.score import take_reviews, write_rejected_and_counts
from pipeline.launcher import BeamJob, Plan, Stats, run_beam_job
from transforms import jsonio, schema
from transforms.beam.inference import ReviewModelHandler
from transforms.beam.inputs import resolve_inputs
from transforms.beam.scoring import META, ScoreReviews, to_prediction
from transforms.beam.sinks import WriteJsonLines
from transforms.errors import NotBlessed

_LOG = logging.getLogger(__name__)

NAME = 'evaluate'
COMPARISON_FILE = 'comparison.json'
VERDICT_FILE = schema.VERDICT_FILE
CANDIDATE, BASELINE = 'candidate', 'baseline'
_PAIRS = 'pairs'                 # the statistics part: McNemar's counts
_P_CANDIDATE = 'p_candidate'     # the candidate's probability, carried through the baseline


def thresholds(job_args: argparse.Namespace) -> gate.Thresholds:
    return gate.Thresholds(
        max_accuracy_drop=job_args.max_accuracy_drop, max_auc_drop=job_args.max_auc_drop,
        max_calibration_error=job_args.max_calibration_error,
        min_slice_reviews=job_args.min_slice_reviews, max_slice_drop=job_args.max_slice_drop,
        min_accuracy=job_args.min_accuracy)


def plan(job_args: argparse.Namespace) -> Plan:
    candidate = model_lookup.resolve_model(job_args.candidate, flag='--candidate',
                                           champion=False)
    baseline = (model_lookup.resolve_model(job_args.baseline, flag='--baseline')
                if job_args.baseline else None)
    specs = resolve_inputs(job_args.data)
    score_finish.check_movies(job_args.movies, job_args.movies_for, specs)
    _LOG.info('Candidate %s against %s', candidate, baseline or 'no baseline (the floor alone)')
    return Plan(output=job_args.output, specs=specs,
                protected=[job_args.candidate, candidate, job_args.baseline, baseline,
                           job_args.movies],
                extra={CANDIDATE: candidate, BASELINE: baseline})


def _pair(keyed) -> Dict:
    """(metadata with the candidate's probability, baseline's PredictionResult) -> one row
    with both models' predictions."""
    meta, result = keyed
    row = to_prediction((meta, result))
    return dict(row, **{_P_CANDIDATE: meta[_P_CANDIDATE]})


def _as(model: str):
    """A pair row -> the prediction row one model gave (what ScoreSummaryFn reads)."""
    def prediction(row: Dict) -> Dict:
        if model == BASELINE:
            return row
        p = row[_P_CANDIDATE]
        return dict(row, **{schema.PROBABILITY_KEY: p, schema.PREDICTED_KEY: (
            schema.POSITIVE if p > 0.5 else schema.NEGATIVE)})
    return prediction


def _right(row: Dict, p: float) -> bool:
    return (p > 0.5) == (row[schema.LABEL_KEY] == schema.POSITIVE)


def _outcome(row: Dict):
    """One review's (both right, only the candidate, only the baseline, neither), as 0/1."""
    mine, theirs = _right(row, row[_P_CANDIDATE]), _right(row, row[schema.PROBABILITY_KEY])
    return int(mine and theirs), int(mine and not theirs), int(theirs and not mine), int(
        not mine and not theirs)


def _sum_outcomes(rows):
    return tuple(map(sum, zip(*rows))) or (0, 0, 0, 0)


def build(p: beam.Pipeline, job_args: argparse.Namespace, plan: Plan, work_dir: str) -> None:
    """Wires the evaluate graph into ``p``, writing under ``work_dir``; does not run it."""
    candidate, baseline = plan.extra[CANDIDATE], plan.extra[BASELINE]
    taken, valid = take_reviews(p, job_args, plan, require_label=True)
    batch = (job_args.min_batch_size, job_args.max_batch_size)
    first = valid | 'ScoreCandidate' >> ScoreReviews(ReviewModelHandler(candidate, *batch))
    model_rejected = [first['rejected']]
    if baseline:
        carried = first['scored'] | 'CarryCandidate' >> beam.Map(
            lambda kv: dict(kv[0], **{schema.REVIEW_KEY: kv[1].example,
                                      _P_CANDIDATE: kv[1].inference[schema.PROBABILITY_OUTPUT]}))
        second = carried | 'ScoreBaseline' >> ScoreReviews(
            ReviewModelHandler(baseline, *batch), keep=(*META, _P_CANDIDATE))
        model_rejected.append(second['rejected'])
        pairs = second['scored'] | 'Pairs' >> beam.Map(_pair)
        scored = pairs
    else:
        scored = first['scored'] | 'ToPrediction' >> beam.Map(to_prediction)
    write_rejected_and_counts(taken, scored, model_rejected, work_dir)
    stats = os.path.join(work_dir, schema.STATS_DIR)
    models_scored = [(CANDIDATE, _as(CANDIDATE) if baseline else None)]
    if baseline:
        models_scored.append((BASELINE, _as(BASELINE)))
    for name, view in models_scored:
        rows = scored if view is None else scored | f'As[{name}]' >> beam.Map(view)
        _ = (rows | f'Summarize[{name}]' >> beam.CombineGlobally(ScoreSummaryFn())
             | f'WriteSummary[{name}]' >> WriteJsonLines(os.path.join(stats, name),
                                                         num_shards=1))
    if baseline:
        _ = (scored
             | 'Outcomes' >> beam.Map(_outcome)
             | 'SumOutcomes' >> beam.CombineGlobally(_sum_outcomes)
             | 'OutcomesToDict' >> beam.Map(lambda c: dict(zip(
                 ('both', 'only_candidate', 'only_baseline', 'neither'), c)))
             | 'WriteOutcomes' >> WriteJsonLines(os.path.join(stats, _PAIRS), num_shards=1))


def _model(path: Optional[str]) -> Optional[Dict]:
    return None if path is None else model_lookup.describe(path)


def finish(work_dir: str, stats: Stats, manifest: Dict, job_args: argparse.Namespace,
           plan: Plan) -> None:
    """comparison.json, verdict.json, report.html, and the manifest's verdict."""
    candidate = metrics.summarize(stats[CANDIDATE][0])
    baseline = metrics.summarize(stats[BASELINE][0]) if BASELINE in stats else None
    outcomes = (stats.get(_PAIRS) or [None])[0]
    test = (gate.mcnemar(outcomes['only_candidate'], outcomes['only_baseline'])
            if outcomes else None)
    found = gate.verdict(candidate, baseline, thresholds(job_args))
    comparison = {
        'candidate': {'model': _model(plan.extra[CANDIDATE]), 'metrics': candidate},
        'baseline': baseline and {'model': _model(plan.extra[BASELINE]), 'metrics': baseline},
        'headline': gate.side_by_side(candidate, baseline),
        'slices': gate.slice_deltas(candidate, baseline) if baseline else [],
        'paired_test': dict(test, outcomes=outcomes) if test else None,
    }
    verdict = dict(found, thresholds=vars(thresholds(job_args)),
                   candidate=comparison['candidate']['model'],
                   baseline=comparison['baseline'] and comparison['baseline']['model'],
                   paired_test=comparison['paired_test'], created=manifest['created'])
    manifest['counts']['scored'] = manifest['counts']['accepted']
    jsonio.write_json(os.path.join(work_dir, COMPARISON_FILE), comparison)
    jsonio.write_json(os.path.join(work_dir, VERDICT_FILE), verdict)
    manifest.update(verdict={k: verdict[k] for k in ('blessed', 'checks')},
                    candidate=verdict['candidate'], baseline=verdict['baseline'])
    with FileSystems.create(os.path.join(work_dir, schema.REPORT_FILE)) as f:
        f.write(render_gate_report(comparison, verdict, manifest).encode('utf-8'))


def summary(manifest: Dict, folder: str) -> None:
    verdict = manifest['verdict']
    _LOG.info('%s: %s', 'Blessed' if verdict['blessed'] else 'NOT blessed',
              '; '.join(f"{c['check']}: {'ok' if c['passed'] else 'FAILED'} ({c['detail']})"
                        for c in verdict['checks']))


JOB = BeamJob(NAME, plan, build, finish, summary)


def main(job_args: argparse.Namespace, beam_args: List[str]) -> int:
    """Runs the parsed command; returns 0 when the candidate is blessed, else NotBlessed (4)."""
    run_beam_job(JOB, job_args, beam_args)
    verdict = jsonio.read_json(os.path.join(job_args.output, VERDICT_FILE))
    candidate = verdict['candidate'] or {}
    if candidate.get('registry') and candidate.get('version'):
        registry.record_verdict(candidate['registry'], candidate['version'], verdict)
    if not verdict['blessed']:
        failed = [c for c in verdict['checks'] if not c['passed']]
        raise NotBlessed('not blessed: ' + '; '.join(
            f"{c['check']} ({c['detail']})" for c in failed) +
            f'; see {os.path.join(job_args.output, schema.REPORT_FILE)}')
    return 0


def run(argv: Sequence[str] = None) -> int:
    """``imdb-sentiment evaluate ARGV`` in this process."""
    return main(*flags.parse(NAME, argv or []))
