"""The launcher side that every Beam job shares: run the graph into a staged output, fold
its statistics into a manifest, publish, and report.

A job's ``run(argv)`` parses and checks its arguments, then calls ``launch`` with two
functions of its own: ``build(p, work_dir)`` wires the graph; ``finish(work_dir, stats,
manifest)`` writes the job's own files from the statistics the pipeline left (see
``transforms.outputs.read_stats``) and adds its own fields to the manifest.
"""

import logging
import time
from typing import Callable, Dict, List, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, TestOptions

from pipeline.reconcile import counts_summary
from transforms import features, outputs
from transforms.errors import RejectFractionExceeded
from transforms.inputs import InputSpec

_LOG = logging.getLogger(__name__)


def launch(job: str, output: str, options: PipelineOptions, specs: Sequence[InputSpec],
           job_args, beam_args: List[str], build: Callable[[beam.Pipeline, str], None],
           finish: Callable[[str, Dict[str, List[Dict]], Dict], None]) -> Optional[Dict]:
    """Runs the job into ``output``; returns its manifest (None for a --dry_run).

    Raises RejectFractionExceeded (exit 3) after publishing when too many records were
    rejected, so the dead letters can be read."""
    started = time.time()
    with outputs.StagedOutput(output) as out:
        with beam.Pipeline(options=options) as p:
            build(p, out.path)
        if options.view_as(TestOptions).dry_run:  # compiled, not run: nothing to publish
            _LOG.info('Dry run: the job was compiled, not run; nothing was written.')
            return None
        stats = outputs.read_stats(out.path, features.STATS_DIR)
        summary = counts_summary({r['name']: r['value'] for r in stats['counts']},
                                 job_args.max_reject_fraction)
        wall_time = time.time() - started
        manifest = {
            'job': job, 'status': summary.pop('status'), 'error': summary.pop('error'),
            'created': outputs.utc_now(), 'wall_time_s': round(wall_time, 1),
            'reviews_per_s': round(summary['read'] / wall_time, 1) if wall_time else None,
            'inputs': outputs.input_entries(specs, stats.get('inputs', [])),
            'options': dict(vars(job_args)), 'beam_args': list(beam_args), 'counts': summary,
            'versions': outputs.versions(),
        }
        finish(out.path, stats, manifest)
        outputs.write_json(FileSystems.join(out.path, features.MANIFEST_FILE), manifest)
        out.publish()
    return manifest


def raise_if_failed(manifest: Optional[Dict]) -> int:
    """Exit 0, or RejectFractionExceeded when the manifest says the job failed."""
    if manifest is not None and manifest['status'] != 'ok':
        raise RejectFractionExceeded(manifest['error'])
    return 0
