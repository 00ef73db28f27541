"""Whether a Beam job on Flink or Spark would put more in one bundle than Beam's runner can
take in.

Beam's portable runners (the Flink and Spark job servers, Beam 2.62 here) take a bundle's
output from the SDK worker only once the worker has finished the bundle
(``SdkHarnessClient``: the bundle's response first, its data after). Until then the output
waits in the runner's queue for that bundle, which holds 100 messages; the Python SDK sends
messages of up to 10 MiB. A bundle with more output than about 1 GB therefore never ends:
the worker waits to send, the runner waits for the bundle, and nothing fails. Before that,
the queued output has to fit in the TaskManager's or executor's heap. Both runners run all of
a partition's elements of a stage as one bundle, so what bounds a bundle is the number of
partitions:

- on Flink, the job's ``--parallelism``;
- on Spark, the driver's ``spark.default.parallelism``: Beam's Spark runner partitions every
  group by key with the SparkContext's default parallelism (``getPartitioner`` of its batch
  translator), and the driver is Beam's Spark job server, whose own configuration sets it
  (``make spark-up SPARK_UP_FLAGS=--parallelism=N``). The job cannot set it, nor read it
  before it starts, so it is told: ``--spark_default_parallelism=N``
  (``pipeline/flags/engine_options.py``; ``make spark-up`` prints it with the other flags).
  Without it the check counts ``SPARK_DEFAULT`` partitions, the least of Spark's own default
  (its executors' cores, at least 2).

Measured on Flink at 250k reviews with the default flags (``pipeline/cluster/README.md``),
what the largest stage of a job sends back, per byte of input: in preprocess, tf.Transform's
transform of the train split (its token and n-gram ids), ``TRANSFORMED_PER_TRAIN_BYTE`` per
byte of the train split; in every job, the records read and validated,
``READ_PER_INPUT_BYTE``. ``check_bundles`` stops a FlinkRunner or SparkRunner job (a usage
error, exit 2, before any work) whose largest bundle would be more than ``LIMIT_BYTES``, and
names the partitions that keep it under. A Flink job without ``--parallelism`` is only warned
(the cluster's ``parallelism.default`` may be anything); preprocess's
``--ignore-memory-estimate`` turns a refusal into a warning on both engines. At 250,000
reviews over Spark's 2 default partitions, every executor died of ``OutOfMemoryError`` in the
data plane's gRPC thread within about 5 minutes.
"""

import logging
import math
from typing import Iterable, Optional

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.flags.engine_options import SparkClusterOptions
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
SPARK_DEFAULT = 2                  # Spark's default parallelism without spark.default.parallelism:
#                                    its executors' cores, at least 2


class BundleTooLarge(UserError):
    """A FlinkRunner or SparkRunner job whose largest bundle would hang or kill the runner."""


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
    """Raises BundleTooLarge, or warns, before a FlinkRunner or SparkRunner job (see the module
    doc). Other runners are not checked.

    ``try_anyway``: the job's --ignore-memory-estimate; None for a job without that flag, whose
    refusal then names only the partitions."""
    runner = runner_key(options.view_as(StandardOptions).runner)
    if runner not in ('flinkrunner', 'sparkrunner'):
        return
    size = input_bytes(files)
    if runner == 'sparkrunner':
        given = options.view_as(SparkClusterOptions).spark_default_parallelism
        partitions = given or SPARK_DEFAULT
    else:
        given = options.get_all_options().get('parallelism') or -1
        given = given if given > 0 else None
        partitions = given or 1
    largest = largest_bundle_bytes(size, per_input_byte, partitions)
    if largest <= LIMIT_BYTES:
        return
    needed = parallelism_needed(size, per_input_byte)
    advice = _spark_advice if runner == 'sparkrunner' else _flink_advice
    said = f'{job}: {size / 2 ** 20:,.0f} MB of reviews over {advice(given, largest, needed)}'
    # Spark always knows its partitions (Spark's default without the flag); Flink's cluster may
    # set any parallelism when the job gives none.
    if (given is not None or runner == 'sparkrunner') and not try_anyway:
        raise BundleTooLarge(said if try_anyway is None
                             else f'{said}; --ignore-memory-estimate tries anyway')
    _LOG.warning('%s.', said)


def _flink_advice(given: Optional[int], largest: int, needed: int) -> str:
    over = (f'--parallelism={given}' if given
            else 'no --parallelism (1 unless the cluster sets one)')
    return (f'{over} puts about {largest / 2 ** 20:,.0f} MB in one bundle, and Beam\'s Flink '
            f'runner holds a bundle\'s output until it ends (it hangs past about 1 GB): use '
            f'--parallelism={needed} or more, with --execution_mode_for_batch=BATCH_FORCED where '
            'that is more than the cluster\'s task slots (pipeline/cluster/README.md)')


def _spark_advice(given: Optional[int], largest: int, needed: int) -> str:
    over = (f'--spark_default_parallelism={given}' if given
            else f'Spark\'s default {SPARK_DEFAULT} partitions (no --spark_default_parallelism)')
    return (f'{over} put about {largest / 2 ** 20:,.0f} MB in one bundle, and Beam\'s Spark runner '
            'holds a bundle\'s output in the executor until it ends (its executors died of '
            'OutOfMemoryError past it): start the job server with spark.default.parallelism='
            f'{needed} or more (make spark-up SPARK_UP_FLAGS=--parallelism={needed}) and pass '
            f'--spark_default_parallelism={needed} (pipeline/cluster/README.md)')
