"""The explore job: profile a review dataset of any size into stats.json and report.html.

Locally (DirectRunner), labelled and unlabelled reviews together:

  imdb-sentiment explore --input ../shared/data/imdb/train.csv \\
      --input ../shared/data/imdb/unsup.csv --output out/explore

On Dataflow, the same code with the workers installed from our setup.py:

  imdb-sentiment explore --input gs://BUCKET/imdb/*.csv --output gs://BUCKET/out/explore \\
      --runner=DataflowRunner --project=P --region=R \\
      --temp_location=gs://BUCKET/tmp --setup_file=./setup.py

Reviews are read, validated (a label is optional here) and tokenized exactly as
preprocess does; Beam combiners reduce them to exact histograms and word-count
tables, and the launcher turns those into the statistics and the report.
Outputs under --output: stats.json, report.html, rejected/rejected-*.jsonl
(dead letters) and manifest.json.
"""

import argparse
import dataclasses
import json
import logging
import os
from typing import Dict, List, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from analysis import explore_report, explore_stats
from analysis.explore_summary import ProfileReviews
from pipeline import flags
from pipeline.flags.beam_jobs import cleaning_config
from pipeline.launcher import BeamJob, Plan, Stats, run_beam_job
from transforms import jsonio, schema
from transforms.beam.inputs import resolve_inputs
from transforms.beam.intake import ReadAndValidate
from transforms.beam.sinks import WriteJsonLines, write_job_stats

_LOG = logging.getLogger(__name__)

NAME = 'explore'
STATS_FILE = 'stats.json'
_PROFILE = 'profile'


def plan(job_args: argparse.Namespace) -> Plan:
    # Unlabelled reviews are part of the data to explore (aclImdb's unsup/ too).
    return Plan(output=job_args.output,
                specs=resolve_inputs(job_args.input, include_unlabeled=True))


def build(p: beam.Pipeline, job_args: argparse.Namespace, plan: Plan, work_dir: str) -> None:
    """Wires the explore graph into ``p``, writing under ``work_dir``; does not run it."""
    taken = p | 'ReadAndValidate' >> ReadAndValidate(
        plan.specs, require_label=False, max_review_chars=job_args.max_review_chars,
        rejected_prefix=os.path.join(work_dir, schema.REJECTED_DIR, schema.REJECTED_PREFIX))
    stats = os.path.join(work_dir, schema.STATS_DIR)
    _ = (taken['accepted']
         | 'Profile' >> ProfileReviews(cleaning_config(job_args), job_args.top_words)
         # ASCII-escaped: a review's U+2028 or U+0085 would split the line for readers
         # that use str.splitlines (transforms.jsonio.read_json_lines does not).
         | 'ProfileToDict' >> beam.Map(lambda kv: {'name': kv[0], 'json': json.dumps(kv[1])})
         | 'WriteProfile' >> WriteJsonLines(os.path.join(stats, _PROFILE), num_shards=1))
    write_job_stats(taken['counts'], taken['input_stats'], stats)


def finish(work_dir: str, parts: Stats, manifest: Dict, job_args: argparse.Namespace,
           plan: Plan) -> None:
    """stats.json and report.html from the profile's summaries."""
    stats = explore_stats.summarize(
        {r['name']: json.loads(r['json']) for r in parts[_PROFILE]}, job_args.top_words)
    jsonio.write_json(os.path.join(work_dir, STATS_FILE), stats)
    manifest.update(cleaning=dataclasses.asdict(cleaning_config(job_args)),
                    outputs={'stats': STATS_FILE, 'report': schema.REPORT_FILE})
    with FileSystems.create(os.path.join(work_dir, schema.REPORT_FILE)) as f:
        f.write(explore_report.render_report(stats, manifest).encode('utf-8'))


def summary(manifest: Dict, folder: str) -> None:
    stats = jsonio.read_json(FileSystems.join(folder, STATS_FILE))
    c, r = manifest['counts'], stats['reviews']
    _LOG.info('Read %d, accepted %d (%s), rejected %d %s; %d distinct words; %.1fs',
              c['read'], c['accepted'],
              ', '.join(f'{label} {r[label]}' for label in explore_stats.LABELS),
              c['rejected'], {k: v for k, v in c['rejected_by_reason'].items() if v},
              stats['words']['distinct'], manifest['wall_time_s'])


JOB = BeamJob(NAME, plan, build, finish, summary)


def main(job_args: argparse.Namespace, beam_args: List[str]) -> int:
    """Runs the parsed command; returns the exit code."""
    return run_beam_job(JOB, job_args, beam_args)


def run(argv: Sequence[str] = None) -> int:
    """``imdb-sentiment explore ARGV`` in this process."""
    return main(*flags.parse(NAME, argv or []))
