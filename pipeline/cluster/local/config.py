"""The local clusters' layout: what both engines share (the run dir; Beam's job server and
worker pools beside the engine), and the Flink cluster's ports, memory, config.yaml and hosts
files (the Spark cluster's are in ``spark.py``).

Every server binds a loopback address; ``pipeline/cluster/local/flink.py`` starts the processes.
"""

import dataclasses
import json
import os
import re
import shutil
import socket
from typing import Dict, List

from pipeline.jobs.archive import default_cache_dir

POOL_HOST_NAME = 'beam-worker-pool'


@dataclasses.dataclass
class RunDir:
    """Where a local cluster keeps its config, logs and pid files, and where its downloads are."""
    run_dir: str
    cache_dir: str = dataclasses.field(default_factory=default_cache_dir)

    @property
    def pid_dir(self) -> str:
        return os.path.join(self.run_dir, 'pids')

    @property
    def log_dir(self) -> str:
        return os.path.join(self.run_dir, 'log')

    @property
    def conf_dir(self) -> str:
        return os.path.join(self.run_dir, 'conf')


@dataclasses.dataclass
class BeamServices(RunDir):
    """What a local cluster runs for Beam beside its engine: Beam's job server (its job,
    artifact and expansion ports) and the Python worker pool(s), and how long an idle SDK
    worker is kept. The defaults are the Flink cluster's; the Spark cluster moves the ports, so
    that both can run at once."""
    job_port: int = 8099
    artifact_port: int = 8098
    expansion_port: int = 8097
    pool_port: int = 50000
    # How long an idle SDK worker is kept (--environment_cache_millis): between a job's stages,
    # and for this long after the job.
    environment_cache_millis: int = 60000

    def job_server_args(self) -> List[str]:
        """Beam's job server's own flags: its loopback ports, its artifacts in the run dir."""
        return ['--job-host=127.0.0.1', f'--job-port={self.job_port}',
                f'--artifact-port={self.artifact_port}',
                f'--expansion-port={self.expansion_port}',
                f'--artifacts-dir={os.path.join(self.run_dir, "artifacts")}']

    def runner_flags(self, runner: str, pool_host: str) -> List[str]:
        """The pipeline options that send a job to this job server and its SDK workers to the
        pool at ``pool_host``."""
        return [f'--runner={runner}', f'--job_endpoint=localhost:{self.job_port}',
                '--environment_type=EXTERNAL',
                f'--environment_config={pool_host}:{self.pool_port}',
                f'--environment_cache_millis={self.environment_cache_millis}']


@dataclasses.dataclass
class ClusterConfig(BeamServices):
    """The Flink cluster: which ports it takes, and its memory. Memory sizes suit a 2-core,
    24 GiB machine: Beam's Flink jobs keep little in the JVMs (the Python harnesses do the work),
    but tf.Transform's graph has hundreds of operators, so each TaskManager needs ample network
    buffers (see ``flink_config``)."""
    rest_port: int = 8081
    rpc_port: int = 6123
    taskmanagers: int = 2
    jobmanager_memory: str = '1024m'
    taskmanager_memory: str = '3584m'
    network_memory: str = '384m'
    task_off_heap_memory: str = '768m'
    # Beam's runner classes on each TaskManager's class path, loaded parent-first: without it
    # Beam ignores environment_cache_millis and starts an SDK worker per stage (flink_config).
    beam_on_taskmanager_classpath: bool = True

    def pool_host(self, index: int) -> str:
        """The loopback address of TaskManager ``index``'s worker pool (0-based)."""
        return f'127.0.0.{index + 1}'


def beam_flags(config: ClusterConfig) -> List[str]:
    """The pipeline options that run a job of this project on the cluster."""
    return [*config.runner_flags('FlinkRunner', POOL_HOST_NAME),
            f'--parallelism={config.taskmanagers}']


def flink_config(config: ClusterConfig, java_opts: str) -> Dict[str, object]:
    """Flink's config.yaml, flat keys. Every server binds 127.0.0.1 (Flink's REST API would
    otherwise listen on every interface)."""
    flat = {
        'env.java.opts.all': java_opts,
        'env.log.dir': config.log_dir,
        'jobmanager.rpc.address': '127.0.0.1',
        'jobmanager.rpc.port': config.rpc_port,
        'jobmanager.bind-host': '127.0.0.1',
        'jobmanager.memory.process.size': config.jobmanager_memory,
        'taskmanager.host': '127.0.0.1',
        'taskmanager.bind-host': '127.0.0.1',
        'taskmanager.numberOfTaskSlots': 1,
        'taskmanager.memory.process.size': config.taskmanager_memory,
        # tf.Transform's graph gives tasks with dozens of outputs; with Flink's default sort
        # shuffle each blocking output reserves 512 network buffers ("Insufficient number of
        # network buffers"). 64 per output and a fixed network pool fit them on 2 slots.
        'taskmanager.memory.network.min': config.network_memory,
        'taskmanager.memory.network.max': config.network_memory,
        'taskmanager.network.sort-shuffle.min-buffers': 64,
        # Beam's Fn API data channels (gRPC on Netty) take direct memory: tf.Transform's
        # vocabulary accumulators travel as single elements of tens of MB ("OutOfMemoryError:
        # Direct buffer memory" on 25,000 reviews with the default 0).
        'taskmanager.memory.task.off-heap.size': config.task_off_heap_memory,
        # Managed memory holds the sort buffers of Beam's GroupByKey and Combine (the DataSet
        # API sorts), shared by every such operator in the slot; a record larger than a sort
        # buffer (a vocabulary accumulator) fails the job ("Record too large") unless Flink's
        # large-record handler spills it aside.
        'taskmanager.memory.managed.fraction': 0.25,
        'taskmanager.runtime.large-record-handler': True,
        'rest.address': '127.0.0.1',
        'rest.bind-address': '127.0.0.1',
        'rest.port': config.rest_port,
        'blob.server.port': '0',
        'parallelism.default': config.taskmanagers,
        # Beam's job-server jar is loaded per job as user code; its threads outlive the job.
        'classloader.check-leaked-classloader': False,
        'io.tmp.dirs': os.path.join(config.run_dir, 'tmp'),
        # An error no task catches (an OutOfMemoryError in a gRPC thread of Beam's data plane,
        # as preprocess of 250,000 reviews met) stops the TaskManager, so that the job fails
        # and says so; by default Flink only logs it, and the job waits forever for the data
        # that thread would have passed on.
        'cluster.uncaught-exception-handling': 'FAIL',
        # A failed task fails the job, at once. Flink's default for a job without checkpoints
        # too, said here so that a changed default cannot bring back a job that restarts
        # without end: its TaskManager gone, a restart would wait for slots that never come.
        'restart-strategy.type': 'none',
    }
    if config.beam_on_taskmanager_classpath:
        # Beam's Flink runner keeps a job's SDK worker between stages (--environment_cache_millis)
        # only when its classes come from Flink's own class loader; from the job's jar, loaded
        # child-first per job, it stops the worker after every task, and the pool starts another
        # one (importing TensorFlow again) for the next stage. flink.py puts the job-server jar
        # on each TaskManager's class path; parent-first makes the job's copy of it unused.
        flat['classloader.resolve-order'] = 'parent-first'
    return flat


def write_config(config: ClusterConfig, home: str) -> None:
    """config.yaml (and the log4j files the scripts expect) into the run dir, and one hosts file
    per TaskManager that maps the pool's name to that TaskManager's own pool."""
    os.makedirs(config.conf_dir, exist_ok=True)
    shipped = os.path.join(home, 'conf')
    for name in os.listdir(shipped):
        if name.startswith(('log4j', 'logback')):
            shutil.copy(os.path.join(shipped, name), config.conf_dir)
    with open(os.path.join(shipped, 'config.yaml')) as f:
        # The --add-opens flags Flink needs on Java 17, as the distribution ships them.
        java_opts = re.search(r'^\s+all:\s*(.+)$', f.read(), re.M).group(1).strip()
    with open(os.path.join(config.conf_dir, 'config.yaml'), 'w') as f:
        for key, value in flink_config(config, java_opts).items():
            f.write(f'{key}: {json.dumps(value) if isinstance(value, str) else _yaml(value)}\n')
    for i in range(config.taskmanagers):
        with open(hosts_file(config, i), 'w') as f:
            # The JVM then resolves names from this file alone: keep this machine's own names.
            f.write(f'127.0.0.1 localhost {socket.gethostname()}\n'
                    f'{config.pool_host(i)} {POOL_HOST_NAME}\n')


def _yaml(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def hosts_file(config: ClusterConfig, index: int) -> str:
    return os.path.join(config.conf_dir, f'taskmanager-{index + 1}.hosts')
