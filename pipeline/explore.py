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

import dataclasses
import json
import logging
import os
from typing import Dict, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from analysis import explore_report, explore_stats
from transforms import outputs
from pipeline.options import CleaningOptions, ExploreOptions, InputOptions, cleaning_config, \
    parse_job_args
from pipeline.launcher import launch, raise_if_failed
from transforms import features
from transforms.inputs import InputSpec, input_paths, resolve_inputs
from transforms.output_guard import check_output
from transforms.profile import ProfileReviews
from transforms.intake import ReadAndValidate
from transforms.sinks import WriteJsonLines, write_job_stats

_LOG = logging.getLogger(__name__)

STATS_FILE = features.EXPLORE_STATS_FILE
_PROFILE = 'profile'


def build_pipeline(p: beam.Pipeline, options: PipelineOptions, specs: Sequence[InputSpec],
                   work_dir: str) -> None:
    """Wires the explore graph into ``p``, writing under ``work_dir``; does not run it."""
    taken = p | 'ReadAndValidate' >> ReadAndValidate(
        specs, require_label=False,
        max_review_chars=options.view_as(InputOptions).max_review_chars,
        rejected_prefix=os.path.join(work_dir, features.REJECTED_DIR, features.REJECTED_PREFIX))
    stats = os.path.join(work_dir, features.STATS_DIR)
    _ = (taken['accepted']
         | 'Profile' >> ProfileReviews(cleaning_config(options.view_as(CleaningOptions)),
                                      options.view_as(ExploreOptions).top_words)
         # ASCII-escaped: a review's U+2028 or U+0085 would split the line for readers
         # that use str.splitlines (transforms.outputs.read_json_lines does).
         | 'ProfileToDict' >> beam.Map(lambda kv: {'name': kv[0], 'json': json.dumps(kv[1])})
         | 'WriteProfile' >> WriteJsonLines(os.path.join(stats, _PROFILE), num_shards=1))
    write_job_stats(taken['counts'], taken['input_stats'], stats)


def run(argv: Sequence[str] = None) -> int:
    """Parses the command line, runs the job, publishes the output. Returns the exit code."""
    job_args, beam_args = parse_job_args(
        'imdb-sentiment explore', __doc__, (InputOptions, CleaningOptions, ExploreOptions),
        argv or [])
    options = PipelineOptions(list(argv or []))
    # Unlabelled reviews are part of the data to explore (aclImdb's unsup/ too).
    specs = resolve_inputs(job_args.input, include_unlabeled=True)
    check_output(job_args.output, 'explore', protected=input_paths(specs))
    _LOG.info('Exploring %d input(s): %s', len(specs), ', '.join(s.path for s in specs))
    found = {}

    def finish(work_dir: str, parts: Dict, manifest: Dict) -> None:
        stats = explore_stats.summarize(
            {r['name']: json.loads(r['json']) for r in parts[_PROFILE]}, job_args.top_words)
        outputs.write_json(os.path.join(work_dir, STATS_FILE), stats)
        manifest.update(cleaning=dataclasses.asdict(cleaning_config(job_args)),
                        outputs={'stats': STATS_FILE, 'report': features.REPORT_FILE})
        with FileSystems.create(os.path.join(work_dir, features.REPORT_FILE)) as f:
            f.write(explore_report.render_report(stats, manifest).encode('utf-8'))
        found['stats'] = stats

    manifest = launch('explore', job_args.output, options, specs, job_args, beam_args,
                      lambda p, work_dir: build_pipeline(p, options, specs, work_dir), finish)
    if manifest is not None:
        _log_summary(found['stats'], manifest)
    return raise_if_failed(manifest)


def _log_summary(stats: Dict, manifest: Dict) -> None:
    c, r = manifest['counts'], stats['reviews']
    _LOG.info('Read %d, accepted %d (%s), rejected %d %s; %d distinct words; %.1fs',
              c['read'], c['accepted'],
              ', '.join(f'{label} {r[label]}' for label in explore_stats.LABELS),
              c['rejected'], {k: v for k, v in c['rejected_by_reason'].items() if v},
              stats['words']['distinct'], manifest['wall_time_s'])
