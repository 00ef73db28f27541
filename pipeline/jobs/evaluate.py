"""The evaluate job, the model gate: a candidate and a baseline scored on the same labelled
reviews, compared, and the candidate blessed or not.

  imdb-sentiment evaluate --candidate /models/4 --baseline /models --data labelled.csv \\
      --output out/evaluate

--baseline names an export, or a model registry (its champion). Without one (or a registry with
no champion yet, or the candidate itself), the verdict rests on the absolute floor alone, and
says so. Both models score each review in one pass over the data (two RunInference steps, no
shuffle); Beam combiners reduce the pairs to each model's metrics summary and to the counts of
McNemar's paired test. The thresholds (flags) follow TFX's Evaluator: a candidate is blessed
only when every one holds.

The reviews: when the candidate (or the baseline) belongs to a registry with a gate set
(pipeline/gate_set.py), the verdict rests on the gate set; --data is then judged beside it,
and when the champion disagrees with --data's labels far beyond its error on the gate set
(--max-data-shift, plus the samples' margin), the file is suspect: exit 3. Without a gate set
the verdict rests on --data. Never on reviews the candidate was trained on, nor on fewer than
--min-reviews (not blessed); every verdict states the smallest accuracy difference its
reviews could detect at 95% confidence.

Outputs under --output (never inside a registry): comparison.json (metrics side by side,
per-slice deltas, the paired test), verdict.json (blessed or not, each check with its reason),
report.html, rejected/rejected-*.jsonl and manifest.json. Exit code 0: blessed; 4: not
blessed; 3: --data is suspect. When the candidate is a version of a registry, the verdict is
also recorded there (REGISTRY/blessings/<version>.json), which `imdb-sentiment models promote`
reads.
"""

import argparse
import dataclasses
import logging
import os
from typing import Dict, List, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from analysis import gate, metrics
from analysis.measures import ACCURACY
from analysis.score_summary import ScoreSummaryFn
from analysis.gate_report import render_gate_report
from pipeline import flags, gate_set, model_lookup, registry
from pipeline.jobs import gate_inputs, score_finish
from pipeline.jobs.score import take_reviews, write_rejected_and_counts
from pipeline.launcher import BeamJob, Plan, Stats, run_beam_job
from pipeline.runtime import object_store
from transforms import jsonio, schema
from transforms.beam.inference import ReviewModelHandler
from transforms.beam.inputs import resolve_inputs
from transforms.beam.scoring import META, ScoreReviews, to_prediction
from transforms.beam.sinks import WriteJsonLines
from transforms.errors import NotBlessed, SuspectData

_LOG = logging.getLogger(__name__)

NAME = 'evaluate'
COMPARISON_FILE = 'comparison.json'
VERDICT_FILE = schema.VERDICT_FILE
CANDIDATE, BASELINE = 'candidate', 'baseline'
_PAIRS = 'pairs'                 # the statistics part: McNemar's counts
_P_CANDIDATE = 'p_candidate'     # the candidate's probability, carried through the baseline


NEW = '_new'                     # the stats of --data beside the gate set
GATE_PREFIX = 'gate_prefix'      # where the gate set's review files are (plan.extra)


def thresholds(job_args: argparse.Namespace) -> gate.Thresholds:
    """The thresholds the flags set: one flag per field of ``gate.Thresholds``."""
    return gate.Thresholds(**{f.name: getattr(job_args, f.name)
                              for f in dataclasses.fields(gate.Thresholds)})


def plan(job_args: argparse.Namespace) -> Plan:
    gate_inputs.check_output(job_args.output)
    candidate = model_lookup.resolve_model(job_args.candidate, flag='--candidate',
                                           champion=False)
    keeps_verdict = model_lookup.describe(candidate).get('registry')
    if keeps_verdict:  # the verdict goes there after the job: refuse now, not after the work
        registry.check_writable(keeps_verdict, '--candidate')
    baseline, no_baseline = gate_inputs.baseline(job_args.baseline, candidate)
    found = gate_inputs.registry_of([job_args.candidate, candidate, job_args.baseline, baseline])
    pinned = gate_set.verified(found) if found else None
    data = list(job_args.data or [])
    data_specs = resolve_inputs(data) if data else []
    gate_inputs.check_data(candidate, data, data_specs, pinned)
    specs = resolve_inputs(pinned['paths'] + data) if pinned else data_specs
    score_finish.check_movies(job_args.movies, job_args.movies_for, specs)
    if no_baseline:
        _LOG.warning('%s', no_baseline)
    _LOG.info('Candidate %s against %s, on %s', candidate,
              baseline or 'no baseline (the floor alone)',
              f'the gate set of {found}' + (' and --data' if data else '') if pinned
              else '--data (no gate set)')
    return Plan(output=job_args.output, specs=specs,
                protected=[job_args.candidate, candidate, job_args.baseline, baseline,
                           job_args.movies, found],
                extra={CANDIDATE: candidate, BASELINE: baseline, 'no_baseline': no_baseline,
                       'gate_set': pinned, 'registry': found,
                       GATE_PREFIX: os.path.join(os.path.dirname(pinned['paths'][0]), '')
                       if pinned and data else None})


def _pair(keyed) -> Dict:
    """(metadata with the candidate's probability, baseline's PredictionResult) -> one row
    with both models' predictions."""
    meta, result = keyed
    return dict(_prediction(keyed), **{_P_CANDIDATE: meta[_P_CANDIDATE]})


def _prediction(keyed) -> Dict:
    """A prediction row with its review's file (which part of the reviews it is in)."""
    return dict(to_prediction(keyed), **{schema.SOURCE_KEY: keyed[0][schema.SOURCE_KEY]})


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
        scored = first['scored'] | 'ToPrediction' >> beam.Map(_prediction)
    write_rejected_and_counts(taken, scored, model_rejected, work_dir)
    prefix = plan.extra[GATE_PREFIX]
    parts = [('', scored)]
    if prefix:  # the gate set decides; --data beside it only tells whether it is suspect
        parts = [('', scored | 'OnlyGateSet' >> beam.Filter(
                     lambda r: str(r[schema.SOURCE_KEY]).startswith(prefix))),
                 (NEW, scored | 'OnlyData' >> beam.Filter(
                     lambda r: not str(r[schema.SOURCE_KEY]).startswith(prefix)))]
    for part, rows in parts:
        _summarize(rows, part, baseline is not None, os.path.join(work_dir, schema.STATS_DIR))


def _summarize(scored, part: str, paired: bool, stats: str) -> None:
    """Each model's metrics summary of ``scored`` and, with a baseline, McNemar's counts,
    named for the part of the reviews they measure ('': those the verdict rests on)."""
    models_scored = [(CANDIDATE, _as(CANDIDATE) if paired else None)]
    if paired:
        models_scored.append((BASELINE, _as(BASELINE)))
    for model, view in models_scored:
        name = model + part
        rows = scored if view is None else scored | f'As[{name}]' >> beam.Map(view)
        _ = (rows | f'Summarize[{name}]' >> beam.CombineGlobally(ScoreSummaryFn())
             | f'WriteSummary[{name}]' >> WriteJsonLines(os.path.join(stats, name),
                                                         num_shards=1))
    if paired:
        _ = (scored
             | f'Outcomes[{part}]' >> beam.Map(_outcome)
             | f'SumOutcomes[{part}]' >> beam.CombineGlobally(_sum_outcomes)
             | f'OutcomesToDict[{part}]' >> beam.Map(lambda c: dict(zip(
                 ('both', 'only_candidate', 'only_baseline', 'neither'), c)))
             | f'WriteOutcomes[{part}]' >> WriteJsonLines(os.path.join(stats, _PAIRS + part),
                                                          num_shards=1))


def _model(path: Optional[str]) -> Optional[Dict]:
    return None if path is None else model_lookup.describe(path)


def _new_data(stats: Stats, baseline: Optional[Dict], t: gate.Thresholds) -> Dict:
    """--data judged beside the gate set: both models' accuracy on it, and whether the
    champion disagrees with its labels far beyond its error on the gate set."""
    mine = metrics.summarize(stats[CANDIDATE + NEW][0])
    theirs = metrics.summarize(stats[BASELINE + NEW][0]) if BASELINE + NEW in stats else None
    found = {'reviews': mine.get('labelled') or 0, 'candidate': ACCURACY.value(mine),
             'baseline': ACCURACY.value(theirs) if theirs else None}
    if theirs is None or baseline is None:
        return dict(found, suspect=None, detail='no champion to read its labels against')
    return dict(found, **gate.suspect_data(baseline, theirs, t.max_data_shift))


def finish(work_dir: str, stats: Stats, manifest: Dict, job_args: argparse.Namespace,
           plan: Plan) -> None:
    """comparison.json, verdict.json, report.html, and the manifest's verdict."""
    t = thresholds(job_args)
    candidate = metrics.summarize(stats[CANDIDATE][0])
    baseline = metrics.summarize(stats[BASELINE][0]) if BASELINE in stats else None
    outcomes = (stats.get(_PAIRS) or [None])[0]
    test = (gate.mcnemar(outcomes['only_candidate'], outcomes['only_baseline'])
            if outcomes else None)
    new = _new_data(stats, baseline, t) if plan.extra[GATE_PREFIX] else None
    found = gate.verdict(candidate, baseline, t, new_data=new)
    pinned = plan.extra['gate_set']
    comparison = {
        'candidate': {'model': _model(plan.extra[CANDIDATE]), 'metrics': candidate},
        'baseline': baseline and {'model': _model(plan.extra[BASELINE]), 'metrics': baseline},
        'headline': gate.side_by_side(candidate, baseline),
        'slices': gate.slice_deltas(candidate, baseline) if baseline else [],
        'paired_test': dict(test, outcomes=outcomes) if test else None,
    }
    verdict = dict(found, thresholds=vars(t),
                   candidate=comparison['candidate']['model'],
                   baseline=comparison['baseline'] and comparison['baseline']['model'],
                   no_baseline=plan.extra['no_baseline'],
                   judged_on=(f"the gate set of {plan.extra['registry']}" if pinned
                              else '--data (no gate set pinned)'),
                   gate_set=pinned and {k: pinned[k] for k in (
                       'source', 'count', 'sha256', 'created')},
                   data=[object_store.absolute(d) for d in job_args.data or []], new_data=new,
                   suspect=bool(new and new.get('suspect')),
                   paired_test=comparison['paired_test'], created=manifest['created'])
    manifest['counts']['scored'] = manifest['counts']['accepted']
    jsonio.write_json(os.path.join(work_dir, COMPARISON_FILE), comparison)
    jsonio.write_json(os.path.join(work_dir, VERDICT_FILE), verdict)
    manifest.update(verdict={k: verdict[k] for k in _SUMMARY_KEYS},
                    candidate=verdict['candidate'], baseline=verdict['baseline'])
    with FileSystems.create(os.path.join(work_dir, schema.REPORT_FILE)) as f:
        f.write(render_gate_report(comparison, verdict, manifest).encode('utf-8'))


_SUMMARY_KEYS = ('blessed', 'checks', 'reviews', 'min_detectable_difference', 'judged_on',
                 'suspect')


def headline(verdict: Dict) -> str:
    """'on N labelled reviews of WHAT (the smallest difference they detect: D)'."""
    mdd = verdict.get('min_detectable_difference')
    return (f"on {verdict['reviews']} "
            f"labelled reviews of {verdict['judged_on']} (the smallest accuracy difference "
            f"they detect at 95%: {'none' if mdd is None else f'{mdd:.4f}'})")


def summary(manifest: Dict, folder: str) -> None:
    verdict = manifest['verdict']
    _LOG.info('%s %s: %s', 'Blessed' if verdict['blessed'] else 'NOT blessed',
              headline(verdict),
              '; '.join(f"{c['check']}: {'ok' if c['passed'] else 'FAILED'} ({c['detail']})"
                        for c in verdict['checks']))


JOB = BeamJob(NAME, plan, build, finish, summary)


def main(job_args: argparse.Namespace, beam_args: List[str]) -> int:
    """Runs the parsed command; returns 0 when the candidate is blessed, else raises
    SuspectData (3: --data's labels contradict the champion) or NotBlessed (4)."""
    run_beam_job(JOB, job_args, beam_args)
    verdict = jsonio.read_json(os.path.join(job_args.output, VERDICT_FILE))
    candidate = verdict['candidate'] or {}
    if candidate.get('registry') and candidate.get('version'):
        registry.record_verdict(candidate['registry'], candidate['version'], verdict)
    report = os.path.join(job_args.output, schema.REPORT_FILE)
    if verdict['suspect']:
        raise SuspectData(f"suspect data: --data {' '.join(job_args.data)}: "
                          f"{verdict['new_data']['detail']}: are its labels flipped, or the "
                          f"wrong column? Not blessed, not promoted; see {report}")
    if not verdict['blessed']:
        failed = [c for c in verdict['checks'] if not c['passed']]
        raise NotBlessed(f'not blessed {headline(verdict)}: ' + '; '.join(
            f"{c['check']} ({c['detail']})" for c in failed) + f'; see {report}')
    return 0


def run(argv: Sequence[str] = None) -> int:
    """``imdb-sentiment evaluate ARGV`` in this process."""
    return main(*flags.parse(NAME, argv or []))
