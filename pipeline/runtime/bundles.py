"""Whether a Beam job on Flink would put more in one bundle than Beam's runner can take in.

Beam's portable runners (the Flink and Spark job servers, Beam 2.62 here) take a bundle's
output from the SDK worker only once the worker has finished the bundle
(``SdkHarnessClient``: the bundle's response first, its data after). Until then the output
waits in the runner's queue for that bundle, which holds 100 messages; the Python SDK sends
messages of up to 10 MiB. A bundle with more output than about 1 GB therefore never ends:
the worker waits to send, the runner waits for the bundle, and nothing fails. Before that,
the queued output has to fit in the TaskManager's heap. Flink's batch mode runs all of a
partition's elements of a stage as one bundle, so what bounds a bundle is the job's
``--parallelism``.

Measured on Flink at 250k reviews with the default flags (``pipeline/cluster/README.md``),
what the largest stage of a job sends back, per byte of input: in preprocess, tf.Transform's
transform of the train split (its token and n-gram ids), ``TRANSFORMED_PER_TRAIN_BYTE`` per
byte of the train split; in every job, the records read and validated,
``READ_PER_INPUT_BYTE``. ``check_bundles`` stops a FlinkRunner job (a usage error,
exit 2, before any work) whose largest bundle would be more than ``LIMIT_BYTES``, and names
the ``--parallelism`` that keeps it under; without ``--parallelism`` it only warns.

Beam's Spark runner holds a bundle's output the same way, but Spark's partitions do not follow
``--parallelism`` (Spark's default parallelism is its executors' cores). At 250,000 reviews on
``make spark-up``'s cluster (one worker of 2 cores, executors of 2 GB) every executor died of
``OutOfMemoryError`` in the data plane's gRPC thread within about 5 minutes of starting, and
Spark relaunched them without end (benchmarks/README.md). So a SparkRunner job is never refused,
but warned when its largest bundle over ``SPARK_PARTITIONS`` partitions would pass the limit.
"""

import logging
import math
from typing import Iterable, Optional

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.runtime.memory import input_bytes
from pipeline.runtime.runners import runner_key
from transforms.errors import UserError

_LOG = logging.getLogger(__name__)

TRANSFORMED_PER_TRAIN_BYTE = 9.3   # 252 MB out of Transform[Train] for 27 MB of train input
#                                    at 25k reviews; 2,278 MB for 270 MB at 250k (8.4)
READ_PER_INPUT_BYTE = 2.1          # 706 MB of read records for 338 MB of input at 250k
IMBALANCE = 2.0                    # the largest partition against the mean: chunks go by hash
#                                    (2.2 with 62 chunks on 16 partitions, at 250k reviews)
LIMIT_BYTES = 512 * 2 ** 20        # half of what the runner's queue holds for one bundle
SPARK_PARTITIONS = 2               # make spark-up's worker cores: Spark's default parallelism


class BundleTooLarge(UserError):
    """A FlinkRunner job whose largest bundle would hang the runner."""


def preprocess_output(train_share: float) -> float:
    """Bytes a preprocess's largest stage sends back per byte of input."""
    return max(READ_PER_INPUT_BYTE, TRANSFORMED_PER_TRAIN_BYTE * train_share)


def largest_bundle_bytes(input_size: int, per_input_byte: float, parallelism: int) -> int:
    """The estimated output of the largest bundle, in bytes."""
    return round(IMBALANCE * per_input_byte * input_size / max(1, parallelism))


def parallelism_needed(input_size: int, per_input_byte: float) -> int:
    """The least ``--parallelism`` whose largest bundle stays under LIMIT_BYTES."""
    return max(1, math.ceil(IMBALANCE * per_input_byte * input_size / LIMIT_BYTES))


def check_bundles(job: str, files: Iterable[str], options: PipelineOptions,
                  per_input_byte: float = READ_PER_INPUT_BYTE,
                  try_anyway: Optional[bool] = None) -> None:
    """Raises BundleTooLarge, or warns, before a FlinkRunner job; warns before a SparkRunner
    job (see the module doc). Other runners are not checked.

    ``try_anyway``: the job's --ignore-memory-estimate; None for a job without that flag, whose
    refusal then names only --parallelism."""
    runner = runner_key(options.view_as(StandardOptions).runner)
    if runner not in ('flinkrunner', 'sparkrunner'):
        return
    size = input_bytes(files)
    if runner == 'sparkrunner':
        _warn_spark(job, size, per_input_byte)
        return
    parallelism = options.get_all_options().get('parallelism') or -1
    given = parallelism > 0
    largest = largest_bundle_bytes(size, per_input_byte, parallelism if given else 1)
    if largest <= LIMIT_BYTES:
        return
    needed = parallelism_needed(size, per_input_byte)
    said = (f'{job}: {size / 2 ** 20:,.0f} MB of reviews over '
            f'{f"--parallelism={parallelism}" if given else "no --parallelism (1 unless the cluster sets one)"}'
            f' puts about {largest / 2 ** 20:,.0f} MB in one bundle, and '
            'Beam\'s Flink runner holds a bundle\'s output until it ends (it hangs past about '
            f'1 GB): use --parallelism={needed} or more, with '
            '--execution_mode_for_batch=BATCH_FORCED where that is more than the cluster\'s '
            'task slots (pipeline/cluster/README.md)')
    if given and not try_anyway:
        raise BundleTooLarge(said if try_anyway is None
                             else f'{said}; --ignore-memory-estimate tries anyway')
    _LOG.warning('%s.', said)


def _warn_spark(job: str, size: int, per_input_byte: float) -> None:
    largest = largest_bundle_bytes(size, per_input_byte, SPARK_PARTITIONS)
    if largest > LIMIT_BYTES:
        _LOG.warning(
            '%s: %s MB of reviews put about %s MB in one bundle if Spark cuts the work into %d '
            'partitions, as on make spark-up\'s cluster. Beam\'s Spark runner holds a bundle\'s '
            'output until it ends: at 250,000 reviews there, its executors died of '
            'OutOfMemoryError and Spark relaunched them without end. Spark was run to the end '
            'up to 25,000 reviews only; for more, use Flink with the --parallelism its check '
            'names (pipeline/cluster/README.md).', job, f'{size / 2 ** 20:,.0f}',
            f'{largest / 2 ** 20:,.0f}', SPARK_PARTITIONS)
