"""A Beam Python worker pool that listens on one loopback address: one beside each TaskManager
(Flink) or worker (Spark).

A Flink TaskManager or a Spark executor running a Python stage with
``--environment_type=EXTERNAL`` asks the pool at ``--environment_config`` to start an SDK
harness (``StartWorker``), and later to stop it (``StopWorker``): after each stage, unless
``--environment_cache_millis`` keeps it for the job (on Flink only when Beam's runner classes
are on the TaskManager's own class path: ``pipeline/cluster/local/config.py``). It names the
harness by a worker id that is unique only within that TaskManager or executor: two
TaskManagers sharing one pool both ask for ``1-1``, and a stop from one ends the other's harness
mid-bundle. So each TaskManager (each Spark worker) gets its own pool, as in a deployment where
the pool runs beside each of them at ``localhost:50000``. On one machine the pools differ by loopback
address (127.0.0.1, 127.0.0.2, ...) and each TaskManager's JVM resolves the pool's host name to
its own pool through a hosts file of its own (``pipeline/cluster/local/flink.py``).

Beam's pool binds every interface (``[::]``) and has no flag to change it, so this module pins
gRPC's bind address to ``--host`` and then runs Beam's own servicer unchanged. Harnesses are
started with this interpreter (the project's venv), so they import this project and its pinned
TensorFlow and tf.Transform, through ``pipeline.cluster.sdk_harness``, which imports TensorFlow
before taking work (see there why).

    python -m pipeline.cluster.worker_pool --host 127.0.0.1 --port 50000
"""

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from typing import List, Optional


def pin_grpc_servers(host: str) -> None:
    """Every gRPC server opened in this process listens on ``host``, whatever address it asks for."""
    import grpc
    make_server = grpc.server

    def server(*args, **kwargs):
        made = make_server(*args, **kwargs)
        add_port = made.add_insecure_port
        made.add_insecure_port = lambda address: add_port(f'{host}:{address.rsplit(":", 1)[1]}')
        return made

    grpc.server = server


def harness_environment() -> None:
    """The pool starts a bare ``python``: make it this venv's, with the project importable."""
    bin_dir = os.path.dirname(sys.executable)
    os.environ['PATH'] = os.pathsep.join([bin_dir, os.environ.get('PATH', '')])
    repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ['PYTHONPATH'] = os.pathsep.join(
        p for p in (repo_root, os.environ.get('PYTHONPATH')) if p)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    os.environ['PYTHONUNBUFFERED'] = '1'


def _pool_class():
    """Beam's pool servicer, starting ``pipeline.cluster.sdk_harness`` instead of a bare harness."""
    from apache_beam.portability.api import beam_fn_api_pb2
    from apache_beam.runners.worker.worker_pool_main import BeamFnExternalWorkerPoolServicer

    class PreloadingWorkerPool(BeamFnExternalWorkerPoolServicer):
        def StartWorker(self, request, unused_context):
            command = [sys.executable, '-m', 'pipeline.cluster.sdk_harness',
                       request.control_endpoint.url, request.worker_id,
                       str(self._state_cache_size), str(self._data_buffer_time_limit_ms)]
            logging.info('Starting worker %s: %s', request.worker_id, ' '.join(command))
            try:
                # Output goes to the pool's log (Beam's pool pipes it and never reads the pipe).
                worker = subprocess.Popen(command, stdin=subprocess.DEVNULL, close_fds=True)
            except OSError as e:
                return beam_fn_api_pb2.StartWorkerResponse(error=str(e))
            # Where Beam's StopWorker and its exit hook find the worker to end it.
            self._worker_processes[request.worker_id] = worker
            return beam_fn_api_pb2.StartWorkerResponse()

    return PreloadingWorkerPool


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--host', default='127.0.0.1',
                        help='Loopback address to listen on (default %(default)s).')
    parser.add_argument('--port', type=int, default=50000,
                        help='Port to listen on (default %(default)s).')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    harness_environment()
    pin_grpc_servers(args.host)
    _, server = _pool_class().start(use_process=True, port=args.port)
    logging.info('Beam worker pool on %s:%d (harness: %s)', args.host, args.port, sys.executable)
    # SIGTERM from flink-down: leave through sys.exit so Beam's atexit hook ends the harnesses.
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    server.stop(grace=2).wait()
    sys.exit(0)


if __name__ == '__main__':
    main()
