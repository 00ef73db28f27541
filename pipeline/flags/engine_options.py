"""Pipeline options of the Flink job server that Beam's Python SDK does not define.

The portable runner asks the job server which options it takes and passes those on, but the
launcher checks every Beam flag against the SDK's own option classes first (``flags.parse``),
so that a typo is a usage error. Defined here, an option is known to both: importing this
module registers it with Beam (every ``PipelineOptions`` subclass is).
"""

import argparse
from typing import Optional, Sequence

from apache_beam.options.pipeline_options import PipelineOptions

# Flink's ExecutionMode names, as Beam's FlinkPipelineOptions takes them.
EXECUTION_MODES = ('PIPELINED', 'PIPELINED_FORCED', 'BATCH', 'BATCH_FORCED')


class FlinkBatchOptions(PipelineOptions):

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument(
            '--execution_mode_for_batch',
            help='Flink: how stages of a batch job exchange data (Beam\'s default PIPELINED; '
                 'with BATCH_FORCED each stage\'s output is written whole before the next '
                 'stage reads it).')


def problem(beam_args: Sequence[str]) -> Optional[str]:
    """Why a value of these options is not one the job server takes, or None (one line)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    FlinkBatchOptions._add_argparse_args(parser)
    found, _ = parser.parse_known_args(list(beam_args))
    mode = found.execution_mode_for_batch
    if mode is not None and mode not in EXECUTION_MODES:
        return (f'--execution_mode_for_batch {mode!r} is none of {", ".join(EXECUTION_MODES)}')
    return None
