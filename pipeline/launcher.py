"""The skeleton every Beam job shares, so each job module holds only what is its own.

A job describes itself once as a ``BeamJob``: ``plan`` checks everything that can be known
before work starts (inputs, model, paths: a user mistake is exit 2 before any work) and names
the output; ``build`` wires the graph into a pipeline without running it; ``finish`` writes the
job's own files from the small statistics the pipeline left; ``summary`` logs the last line.
``run_beam_job`` does the rest the same for every job: the output guard, the staging folder,
the pipeline, the counts' reconciliation, the manifest, publishing.
"""

import argparse
import dataclasses
import logging
import os
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, TestOptions

from pipeline.runtime.console import Heartbeat
from pipeline.runtime.guard import check_output
from pipeline.runtime.publish import StagedOutput, remove_paths
from pipeline.runtime.reconcile import counts_summary
from transforms import jsonio, schema
from transforms.beam.inputs import InputSpec, input_paths
from transforms.errors import RejectFractionExceeded

_LOG = logging.getLogger(__name__)
Stats = Dict[str, List[Dict]]


@dataclasses.dataclass
class Plan:
    """What a job will read and write, settled before any work.

    ``specs`` are the inputs the manifest describes; ``protected`` more paths the output must
    not overlap (a model, a side file); ``extra`` anything the job's own steps need."""
    output: str
    specs: Sequence[InputSpec]
    protected: Sequence[Optional[str]] = ()
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class BeamJob:
    """One Beam job, described once (see the module doc)."""
    name: str
    plan: Callable[[argparse.Namespace], Plan]
    build: Callable[[beam.Pipeline, argparse.Namespace, Plan, str], None]
    finish: Callable[[str, Stats, Dict, argparse.Namespace, Plan], None]
    summary: Callable[[Dict, Plan], None]


def run_beam_job(job: BeamJob, job_args: argparse.Namespace, beam_args: List[str]) -> int:
    """Plans, runs and publishes ``job``; returns 0, or raises the UserError that says why not.

    Raises RejectFractionExceeded (exit 3) after publishing when too many records were
    rejected, so the dead letters can be read."""
    plan = job.plan(job_args)
    check_output(plan.output, job.name,
                 protected=[*input_paths(plan.specs), *plan.protected])
    options = PipelineOptions(beam_args)
    _LOG.info('%s: %d input(s) (%s) into %s', job.name, len(plan.specs),
              ', '.join(s.path for s in plan.specs), plan.output)
    started = time.time()
    with Heartbeat(job.name), StagedOutput(plan.output) as out:
        with beam.Pipeline(options=options) as p:
            job.build(p, job_args, plan, out.path)
        if options.view_as(TestOptions).dry_run:  # compiled, not run: nothing to publish
            _LOG.info('Dry run: the job was compiled, not run; nothing was written.')
            return 0
        stats = read_stats(out.path)
        summary = counts_summary({r['name']: r['value'] for r in stats['counts']},
                                 job_args.max_reject_fraction)
        wall_time = time.time() - started
        manifest = {
            'job': job.name, 'status': summary.pop('status'), 'error': summary.pop('error'),
            'created': jsonio.utc_now(), 'wall_time_s': round(wall_time, 1),
            'reviews_per_s': round(summary['read'] / wall_time, 1) if wall_time else None,
            'inputs': input_entries(plan.specs, stats.get('inputs', [])),
            'options': dict(vars(job_args)), 'beam_args': list(beam_args), 'counts': summary,
            'versions': jsonio.versions(),
        }
        job.finish(out.path, stats, manifest, job_args, plan)
        jsonio.write_json(FileSystems.join(out.path, schema.MANIFEST_FILE), manifest)
        out.publish()
    job.summary(manifest, plan)
    if manifest['status'] != 'ok':
        raise RejectFractionExceeded(manifest['error'])
    return 0


def read_stats(work_dir: str) -> Stats:
    """The small statistics files a pipeline wrote under ``work_dir/_stats`` as
    {file name base: rows}; the folder is removed, its content now lives in the manifest."""
    folder = FileSystems.join(work_dir, schema.STATS_DIR)
    found: Stats = {}
    for m in FileSystems.match([FileSystems.join(folder, '*')])[0].metadata_list:
        name = os.path.basename(m.path).split('-')[0].split('.')[0]
        found.setdefault(name, []).extend(jsonio.read_json_lines(m.path))
    remove_paths([folder])
    return found


def input_entries(specs: Sequence[InputSpec], stats_rows: List[Dict]) -> List[Dict]:
    """The manifest's inputs block: each input's path and format with its files, rows, sha256."""
    by_path = {r['path']: r for r in stats_rows}
    return [dict({k: v for k, v in by_path.get(s.path, {}).items() if k != 'path'},
                 path=s.path, format=s.format) for s in specs]
