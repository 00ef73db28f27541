"""A real Spark standalone cluster on this machine for the Beam jobs: ``make spark-up`` /
``make spark-down``.

``up`` starts, all on loopback addresses and stopped later by their pid files:

- a Spark master (RPC 127.0.0.1:7077, web UI and its ``/json/`` on 127.0.0.1:8080) and one
  worker (2 cores; web UI 8082, as 8081 is Flink's), from PyPI's pyspark
  (``pipeline/cluster/local/install.py``), started with ``java -cp`` since the wheel has no
  ``sbin/start-*.sh``; the worker starts one executor per job;
- a Beam Python worker pool beside the worker (``pipeline/cluster/worker_pool.py``,
  127.0.0.1:50100), which the executor reaches at ``localhost``, the way a pool beside each
  Spark worker would be reached on a real cluster;
- Beam's Spark job server (127.0.0.1:8199), which is the Spark driver of every job: it turns a
  submitted Beam pipeline into a Spark application on the master.

Ports other than Spark's own defaults differ from the Flink cluster's, so both can run at once.
A job then runs on it with the flags of ``beam_flags()``::

    imdb-sentiment preprocess --input R.csv --output OUT \\
        --runner=SparkRunner --job_endpoint=localhost:8199 --environment_type=EXTERNAL \\
        --environment_config=localhost:50100 --environment_cache_millis=600000

    python -m pipeline.cluster.local.spark up|down|status [--run-dir DIR] [--job-port N ...]
"""

import dataclasses
import os
import sys
from typing import Dict, List, Optional

from pipeline.cluster.local import install, lifecycle, processes
from pipeline.cluster.local.config import BeamServices

# The same for both local clusters (lifecycle.py); named here for this module's callers.
STATE_FILE, down, running = lifecycle.STATE_FILE, lifecycle.down, lifecycle.running


@dataclasses.dataclass
class SparkConfig(BeamServices):
    """The Spark cluster: its ports, its one worker and the executor each job gets. The JVMs
    hold little (the Python SDK worker does the work)."""
    master_port: int = 7077
    web_ui_port: int = 8080
    worker_ui_port: int = 8082
    driver_ui_port: int = 4040
    worker_cores: int = 2
    # Each job's one executor, and so the worker's memory (the worker offers exactly this).
    # Beam's runner holds a whole bundle's output in the executor's heap until the bundle ends,
    # one bundle per task, worker_cores tasks at a time: up to twice the bundle check's 512 MB
    # (pipeline/runtime/bundles.py), which would fill half of 2g.
    executor_memory: str = '4g'
    # Spark's default parallelism (spark.default.parallelism of the driver, the job server):
    # the partitions of every group by key of Beam's Spark runner, and so of every stage after
    # one. Without it Spark takes its executors' cores (2 here), and at 250,000 reviews each
    # bundle outgrew the executor. 16 keeps preprocess's largest bundle at 250,000 reviews
    # under bundles.LIMIT_BYTES; 1,000,000 needs 40 (bundles.py names the number).
    parallelism: int = 16
    # Beam's job server and worker pool, 100 ports above the Flink cluster's.
    job_port: int = 8199
    artifact_port: int = 8198
    expansion_port: int = 8197
    pool_port: int = 50100
    # Beam's Spark runner stops a job's SDK worker once no task uses it unless this is set
    # (Beam's default, 0: a new worker, importing TensorFlow again, for each task). The executor
    # and its worker end with the job, so a long cache costs nothing after it.
    environment_cache_millis: int = 600000

    @property
    def master_url(self) -> str:
        return f'spark://127.0.0.1:{self.master_port}'


def beam_flags(config: SparkConfig) -> List[str]:
    """The pipeline options that run a job of this project on the cluster; the last one tells
    the job the partitions the cluster makes (pipeline/flags/engine_options.py)."""
    return [*config.runner_flags('SparkRunner', 'localhost'),
            f'--spark_default_parallelism={config.parallelism}']


def spark_defaults(config: SparkConfig) -> Dict[str, str]:
    """spark-defaults.conf of the master and the worker."""
    return {
        'spark.master.rest.enabled': 'false',
        # The master fails an application whose executor exited with an error this many times in
        # a row while none of its executors ran, instead of starting new ones without end (a
        # lost executor loses the shuffle outputs it held, so a job whose executors run out of
        # memory went on forever). It counts from 0 again each time a new executor starts: with
        # one worker only 1 bounds anything.
        'spark.deploy.maxExecutorRetries': '1',
        # Each job's executor copies the job-server jar (about 270 MB) into the worker's work
        # dir: remove a finished job's copy after two minutes.
        'spark.worker.cleanup.enabled': 'true',
        'spark.worker.cleanup.interval': '60',
        'spark.worker.cleanup.appDataTtl': '120',
    }


def driver_properties(config: SparkConfig) -> Dict[str, str]:
    """The job server's Spark settings (system properties, which SparkConf reads)."""
    return {
        'spark.driver.host': '127.0.0.1',
        'spark.driver.bindAddress': '127.0.0.1',
        'spark.ui.port': str(config.driver_ui_port),
        'spark.ui.showConsoleProgress': 'false',
        'spark.executor.memory': config.executor_memory,
        # Beam's Spark runner makes each group by key's partitions from this (its
        # getPartitioner: the SparkContext's defaultParallelism), not from --parallelism.
        'spark.default.parallelism': str(config.parallelism),
        # A failed task fails the job, with the task's error (an executor's OutOfMemoryError,
        # say) as the job's, as on the Flink cluster; by default Spark tries it 4 times and the
        # job ends later with the master's removal of it, which does not say why.
        'spark.task.maxFailures': '1',
        'spark.local.dir': os.path.join(config.run_dir, 'tmp'),
    }


def _spark_env(config: SparkConfig, home: str) -> Dict[str, str]:
    env = dict(os.environ)
    # Web UIs and block managers bind SPARK_LOCAL_IP (every interface without it); RPC servers
    # bind --host or spark.driver.bindAddress.
    env.update(SPARK_HOME=home, SPARK_SCALA_VERSION='2.12', SPARK_LOCAL_IP='127.0.0.1',
               SPARK_LOCAL_HOSTNAME='localhost', SPARK_CONF_DIR=config.conf_dir,
               SPARK_LOCAL_DIRS=os.path.join(config.run_dir, 'tmp'))
    return env


def _alive_workers(config: SparkConfig) -> int:
    page = processes.get_json(f'http://127.0.0.1:{config.web_ui_port}/json/') or {}
    return page.get('aliveworkers', 0)


def up(config: SparkConfig, log=print) -> Dict:
    """Installs what is missing, starts the cluster, waits until it is ready; returns its state.
    Stops whatever it started if any part fails."""
    home, jar = install.ensure_spark_all(config.cache_dir, log)
    with lifecycle.starting(config, 'make spark-down', ('tmp', 'work', 'artifacts')) as cluster:
        defaults = os.path.join(config.conf_dir, 'spark-defaults.conf')
        with open(defaults, 'w') as f:
            f.writelines(f'{k} {v}\n' for k, v in spark_defaults(config).items())
        java = ['java', '-cp', f'{config.conf_dir}:{os.path.join(home, "jars", "*")}', '-Xmx512m']
        env = _spark_env(config, home)
        cluster.start('master', [*java, 'org.apache.spark.deploy.master.Master',
                                 '--host', '127.0.0.1', '--port', str(config.master_port),
                                 '--webui-port', str(config.web_ui_port),
                                 '--properties-file', defaults], env=env)
        cluster.wait('Spark master', lambda: processes.get_json(
            f'http://127.0.0.1:{config.web_ui_port}/json/') is not None)
        cluster.start('worker', [*java, 'org.apache.spark.deploy.worker.Worker',
                                 '--host', '127.0.0.1', '--webui-port', str(config.worker_ui_port),
                                 '--cores', str(config.worker_cores),
                                 '--memory', config.executor_memory,
                                 '--work-dir', os.path.join(config.run_dir, 'work'),
                                 '--properties-file', defaults, config.master_url], env=env)
        cluster.start('worker-pool', [sys.executable, '-m', 'pipeline.cluster.worker_pool',
                                      '--host', '127.0.0.1', '--port', str(config.pool_port)],
                      cwd=install.REPO_ROOT)
        # No --add-opens: the jar's manifest carries Spark's Java 17 module options.
        cluster.start('job-server', [
            'java', '-Xmx1g', *(f'-D{k}={v}' for k, v in driver_properties(config).items()),
            '-jar', jar, f'--spark-master-url={config.master_url}',
            *config.job_server_args()], env=env)
        cluster.wait('Spark worker', lambda: _alive_workers(config) >= 1)
        cluster.wait('worker pool', lambda: processes.port_open('127.0.0.1', config.pool_port), 60)
        cluster.wait('Beam job server', lambda: processes.port_open(
            '127.0.0.1', config.job_port), 60)
    return lifecycle.save_state(config, jar, beam_flags(config),
                                spark_version=install.SPARK_VERSION, spark_home=home,
                                web_ui=f'http://127.0.0.1:{config.web_ui_port}',
                                master_url=config.master_url)


def describe(state: Dict) -> str:
    """What ``make spark-up`` prints: where to look and what to pass."""
    config = state['config']
    return lifecycle.describe(
        state, 'spark', f'Spark {state["spark_version"]}: master {state["master_url"]}, web UI '
                        f'{state["web_ui"]} (1 worker, {config["worker_cores"]} cores; an '
                        f'executor of {config["executor_memory"]} per job, '
                        f'{config["parallelism"]} partitions)',
        'Spark job server (the driver)',
        f'Worker pool beside the worker: 127.0.0.1:{config["pool_port"]}')


def main(argv: Optional[List[str]] = None) -> int:
    return lifecycle.main(
        argv, 'spark', __doc__.split('\n', 1)[0], SparkConfig, up, describe,
        ('master_port', 'web_ui_port', 'job_port', 'pool_port', 'worker_cores',
         'executor_memory', 'parallelism'),
        lambda config: f'http://127.0.0.1:{config.web_ui_port}/json/')


if __name__ == '__main__':
    sys.exit(main())
