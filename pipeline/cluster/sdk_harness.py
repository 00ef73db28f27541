"""The SDK harness that the worker pool starts: Beam's, with TensorFlow imported first.

A harness runs the bundles of several stages at once, in threads, and the stages of these jobs
import TensorFlow lazily (in ``DoFn.setup`` or when unpickled). Two threads importing it at
the same time can fail with ``_DeadlockError: deadlock detected by _ModuleLock(...)`` (seen on
the Flink cluster in the score job). Importing it, tf.Transform and the project's job modules
here, in the main thread before any work arrives, makes every later import a lookup.

    python -m pipeline.cluster.sdk_harness CONTROL_URL WORKER_ID STATE_CACHE_SIZE BUFFER_MS
"""

import importlib
import sys
from typing import List, Optional

# What the stages of explore, preprocess and score import.
PRELOAD = ('tensorflow', 'tensorflow_transform', 'tensorflow_transform.beam', 'trainer.export',
           'pipeline.jobs.explore', 'pipeline.jobs.preprocess', 'pipeline.jobs.score')


def main(argv: Optional[List[str]] = None) -> None:
    control_url, worker_id, state_cache_size, buffer_ms = (argv or sys.argv[1:])
    for module in PRELOAD:
        importlib.import_module(module)
    from apache_beam.runners.worker.sdk_worker import SdkHarness
    SdkHarness(control_url, worker_id=worker_id, state_cache_size=int(state_cache_size),
               data_buffer_time_limit_ms=int(buffer_ms)).run()


if __name__ == '__main__':
    main()
