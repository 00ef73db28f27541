"""The skeleton every Beam job shares, so each job module holds only what is its own.

A job describes itself once as a ``BeamJob``: ``plan`` checks everything that can be known
before work starts (inputs, model, paths: a user mistake is exit 2 before any work) and names
the output; ``build`` wires the graph into a pipeline without running it; ``finish`` writes the
job's own files from the small statistics the pipeline left; ``summary`` logs the last line.
``run_beam_job`` does the rest the same for every job: the output guard, the staging folder,
the pipeline, the counts' reconciliation, the manifest, publishing.
"""

import argparse
import contextlib
import dataclasses
import logging
import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions, TestOptions

from pipeline.runtime import bundles, local_cores, memory
from pipeline.runtime.console import Heartbeat
from pipeline.runtime.guard import check_nightly_root, check_output
from pipeline.runtime.publish import StagedOutput, remove_paths
from pipeline.runtime.reconcile import counts_summary
from pipeline.runtime.runners import (check_dry_run, check_job_endpoint, engine_failure,
                                      setup_file_copied)
from transforms import jsonio, schema
from transforms.beam.inputs import InputSpec, input_paths
from transforms.errors import RejectFractionExceeded

_LOG = logging.getLogger(__name__)
Stats = Dict[str, List[Dict]]


@dataclasses.dataclass
class Plan:
    """What a job will read and write, settled before any work.

    ``specs`` are the inputs the manifest describes; ``protected`` more paths the output must
    not overlap (a model, a side file); ``root`` the nightly root a dated run's partition
    lies in; ``extra`` anything the job's own steps need."""
    output: str
    specs: Sequence[InputSpec]
    protected: Sequence[Optional[str]] = ()
    root: Optional[str] = None
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Fallback:
    """What a job runs when its pipeline failed, to tell a user's data problem from a bug: a
    smaller graph (reading, validation, dead letters, counts) and, from its counts, the
    reason the full job could not run (None: it was not the data, the failure stands)."""
    build: Callable[[beam.Pipeline, argparse.Namespace, Plan, str], None]
    reason: Callable[[Dict[str, int]], Optional[str]]


@dataclasses.dataclass(frozen=True)
class BeamJob:
    """One Beam job, described once (see the module doc)."""
    name: str
    plan: Callable[[argparse.Namespace], Plan]
    build: Callable[[beam.Pipeline, argparse.Namespace, Plan, str], None]
    finish: Callable[[str, Stats, Dict, argparse.Namespace, Plan], None]
    summary: Callable[[Dict, str], None]   # (manifest, the folder it was published to)
    fallback: Optional[Fallback] = None
    # What the run needs of this machine, checked before any work (a UserError stops it).
    check_resources: Optional[Callable[[Plan, argparse.Namespace, PipelineOptions], None]] = None
    # Bytes its largest stage sends back to a portable runner per byte of input (Flink's check
    # of --parallelism, pipeline/runtime/bundles.py); by default, the records read.
    bundle_output: Callable[[argparse.Namespace], float] = (
        lambda _: bundles.READ_PER_INPUT_BYTE)


def run_beam_job(job: BeamJob, job_args: argparse.Namespace, beam_args: List[str]) -> int:
    """Plans, runs and publishes ``job``; returns 0, or raises the UserError that says why not.

    Raises RejectFractionExceeded (exit 3) when too many records were rejected, or nothing
    was left to work on: the output is then kept beside the earlier one
    (``OUT.failed-<time>``), which it never replaces."""
    options = PipelineOptions(beam_args)
    check_dry_run(options)
    plan = _checked_plan(job, job_args)
    files = [f for spec in plan.specs for f in spec.files]
    cores = local_cores.choose(beam_args, options.view_as(StandardOptions).runner,
                               memory.input_bytes(files),
                               affordable=memory.affordable_workers())
    cores.apply(options)
    if job.check_resources:
        job.check_resources(plan, job_args, options)
    bundles.check_bundles(job.name, files, options, job.bundle_output(job_args),
                          try_anyway=getattr(job_args, 'ignore_memory_estimate', None))
    check_job_endpoint(options)
    if cores.reason:
        _LOG.info('%s: %s', job.name, local_cores.describe(cores))
    started = time.monotonic()
    with Heartbeat(job.name), StagedOutput(plan.output) as out:
        with setup_file_copied(options), local_cores.WorkerProcesses(job.name, cores.processes):
            stopped, stats = _run_pipeline(job, options, job_args, plan, out.path)
        if options.view_as(TestOptions).dry_run:  # compiled, not run: nothing to publish
            _LOG.info('Dry run: the job was compiled, not run; nothing was written.')
            return 0
        stats = stats or read_stats(out.path)
        summary = counts_summary({r['name']: r['value'] for r in stats['counts']},
                                 job_args.max_reject_fraction)
        if stopped:
            summary.update(status='failed', error=stopped)
        wall_time = time.monotonic() - started
        manifest = {
            'job': job.name, 'status': summary.pop('status'), 'error': summary.pop('error'),
            'created': jsonio.utc_now(), 'wall_time_s': round(wall_time, 1),
            'reviews_per_s': round(summary['read'] / wall_time, 1) if wall_time else None,
            'inputs': input_entries(plan.specs, stats.get('inputs', [])),
            'options': dict(vars(job_args)), 'beam_args': list(beam_args),
            'worker_processes': cores.processes if cores.reason else None, 'counts': summary,
            'versions': jsonio.versions(),
        }
        if not stopped:
            job.finish(out.path, stats, manifest, job_args, plan)
        out.write_manifest(manifest)
        published = out.publish() if manifest['status'] == 'ok' else out.publish_failed()
    if not stopped:
        job.summary(manifest, published)
    if manifest['status'] != 'ok':
        raise RejectFractionExceeded(
            f'{manifest["error"]}. Nothing was replaced: this run\'s output, its rejected/ '
            f'folder and manifest are in {published}')
    return 0


def _checked_plan(job: BeamJob, job_args: argparse.Namespace) -> Plan:
    """The job's plan, with its output checked (exit 2 before any work)."""
    plan = job.plan(job_args)
    protected = [*input_paths(plan.specs), *plan.protected]
    if plan.root:
        check_nightly_root(plan.root, protected=protected)
    check_output(plan.output, job.name, protected=protected)
    _LOG.info('%s: %d input(s) (%s) into %s', job.name, len(plan.specs),
              ', '.join(s.path for s in plan.specs), plan.output)
    for spec in plan.specs:
        if spec.skipped:
            _LOG.warning('%s: skipped %d entries that are not review files (listed in the '
                         'manifest): %s', spec.path, len(spec.skipped),
                         ', '.join(f'{e} ({why})' for e, why in spec.skipped[:5]) +
                         (', ...' if len(spec.skipped) > 5 else ''))
    return plan


def _run_pipeline(job: BeamJob, options: PipelineOptions, job_args: argparse.Namespace,
                  plan: Plan, work_dir: str) -> Tuple[Optional[str], Optional[Stats]]:
    """Runs the job's graph into ``work_dir``: (None, None). When it fails and the job has a
    fallback, runs that instead: (why the job could not go on, the fallback's statistics),
    or re-raises when the data is not the reason."""
    try:
        # Beam logs a failing bundle's traceback as it unwinds; with a fallback to say what
        # went wrong, that is noise (a failure that is not the data's is raised again, whole).
        with _beam_errors_hidden(job.fallback is not None), beam.Pipeline(options=options) as p:
            job.build(p, job_args, plan, work_dir)
        return None, None
    except Exception as error:  # a signal (KeyboardInterrupt) is not the data's fault: never here
        # A dry run's fallback would not run either: it could not tell the data's fault.
        if job.fallback is None or options.view_as(TestOptions).dry_run:
            _raise_engine_failure(error, options)
            raise
        failure = sys.exc_info()
        remove_paths([work_dir])
        FileSystems.mkdirs(work_dir)
        try:
            with beam.Pipeline(options=options) as p:
                job.fallback.build(p, job_args, plan, work_dir)
        except Exception:  # the engine failed it too (its workers died): the job's failure stands
            _raise_engine_failure(failure[1], options)
            raise
        stats = read_stats(work_dir)
        reason = job.fallback.reason({r['name']: r['value'] for r in stats['counts']})
        if reason is None:
            _raise_engine_failure(failure[1], options)
            raise failure[1].with_traceback(failure[2])
        return reason, stats


def _raise_engine_failure(error: BaseException, options: PipelineOptions) -> None:
    """Raises a cluster engine's failure of the job as one line (EngineFailed, exit 1)."""
    found = engine_failure(error, options)
    if found is not None:
        raise found from error


@contextlib.contextmanager
def _beam_errors_hidden(hidden: bool):
    logger = logging.getLogger('apache_beam.runners')
    level = logger.level
    if hidden:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


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
    entries = []
    for s in specs:
        entry = dict({k: v for k, v in by_path.get(s.path, {}).items() if k != 'path'},
                     path=s.path, format=s.format)
        if s.skipped:
            entry['skipped'] = [{'entry': e, 'reason': why} for e, why in s.skipped]
        entries.append(entry)
    return entries
