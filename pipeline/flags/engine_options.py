"""Pipeline options for the Flink and Spark job servers that Beam's Python SDK does not define.

The portable runner asks the job server which options it takes and passes those on, but the
launcher checks every Beam flag against the SDK's own option classes first (``flags.parse``),
so that a typo is a usage error. Defined here, an option is known to both: importing this
module registers it with Beam (every ``PipelineOptions`` subclass is).

``--execution_mode_for_batch`` is the Flink job server's own. ``--spark_default_parallelism``
is no job server's: Beam's Spark runner takes its partitions from the job server's Spark
configuration, and the option tells the job what that is, for its bundle check
(``pipeline/runtime/bundles.py``); the job server ignores it.
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


class SparkClusterOptions(PipelineOptions):

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument(
            '--spark_default_parallelism', type=int,
            help='Spark: the spark.default.parallelism the job server (the Spark driver) was '
                 'started with, which makes the partitions of every stage after a group by key '
                 'and so bounds a bundle. Beam\'s Spark runner takes it from the job server, not '
                 'from the job: this tells the job, which checks its bundles before it starts '
                 '(make spark-up prints it).')


def problem(beam_args: Sequence[str]) -> Optional[str]:
    """Why a value of these options is not one the job server takes, or None (one line)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    FlinkBatchOptions._add_argparse_args(parser)
    SparkClusterOptions._add_argparse_args(parser)
    found, _ = parser.parse_known_args(list(beam_args))
    if found.spark_default_parallelism is not None and found.spark_default_parallelism < 1:
        return f'--spark_default_parallelism {found.spark_default_parallelism} is not positive'
    mode = found.execution_mode_for_batch
    if mode is not None and mode not in EXECUTION_MODES:
        return (f'--execution_mode_for_batch {mode!r} is none of {", ".join(EXECUTION_MODES)}')
    return None
