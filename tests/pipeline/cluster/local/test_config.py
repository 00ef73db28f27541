"""The local clusters' configuration without a cluster: every address on loopback, ports from the
config, each TaskManager's own pool, the flags each engine prints and the jobs take."""

import os

import pytest

from pipeline.cluster.local import config as cluster_config
from pipeline.jobs import download


@pytest.fixture
def flink_home(tmp_path):
    """The parts of a Flink distribution that write_config reads."""
    conf = tmp_path / 'flink' / 'conf'
    conf.mkdir(parents=True)
    (conf / 'config.yaml').write_text('env:\n  java:\n    opts:\n      all: --add-opens=x=ALL\n')
    (conf / 'log4j.properties').write_text('rootLogger.level = INFO\n')
    return str(tmp_path / 'flink')


def test_every_flink_address_is_loopback_and_ports_come_from_the_config(tmp_path):
    config = cluster_config.ClusterConfig(run_dir=str(tmp_path), rest_port=18081, rpc_port=16123)
    flat = cluster_config.flink_config(config, '-Dx')
    for key in ('jobmanager.rpc.address', 'jobmanager.bind-host', 'taskmanager.host',
                'taskmanager.bind-host', 'rest.address', 'rest.bind-address'):
        assert flat[key] == '127.0.0.1', key
    assert flat['rest.port'] == 18081 and flat['jobmanager.rpc.port'] == 16123
    assert flat['classloader.check-leaked-classloader'] is False
    assert flat['taskmanager.numberOfTaskSlots'] == 1


def test_each_taskmanager_resolves_the_pool_name_to_its_own_pool(tmp_path, flink_home):
    config = cluster_config.ClusterConfig(run_dir=str(tmp_path / 'run'), taskmanagers=2)
    cluster_config.write_config(config, flink_home)
    pools = []
    for i in range(2):
        entries = {}
        with open(cluster_config.hosts_file(config, i)) as f:
            for line in f:
                address, *names = line.split()
                entries.update((name, address) for name in names)
        pools.append(entries[cluster_config.POOL_HOST_NAME])
        assert entries['localhost'] == '127.0.0.1'  # the JVM reads this file alone
    assert pools == ['127.0.0.1', '127.0.0.2']
    written = open(os.path.join(config.conf_dir, 'config.yaml')).read()
    assert 'env.java.opts.all: "--add-opens=x=ALL"' in written
    assert 'rest.bind-address: "127.0.0.1"' in written
    assert os.path.exists(os.path.join(config.conf_dir, 'log4j.properties'))


def test_each_engine_prints_the_flags_that_keep_one_sdk_worker_per_job(tmp_path):
    """Without --environment_cache_millis Beam stops the SDK worker after every stage (Spark) or
    task (Flink), and the next one imports TensorFlow again."""
    from pipeline.cluster.local import spark
    flink_flags = cluster_config.beam_flags(cluster_config.ClusterConfig(run_dir=str(tmp_path)))
    spark_flags = spark.beam_flags(spark.SparkConfig(run_dir=str(tmp_path)))
    for flags, runner in ((flink_flags, 'FlinkRunner'), (spark_flags, 'SparkRunner')):
        assert f'--runner={runner}' in flags and '--environment_type=EXTERNAL' in flags
        [cache] = [f for f in flags if f.startswith('--environment_cache_millis=')]
        assert int(cache.split('=')[1]) >= 60000


def test_an_uncaught_error_in_a_taskmanager_fails_the_job(tmp_path):
    """At 250,000 reviews a gRPC thread of Beam's data plane died of OutOfMemoryError, which
    Flink only logged: the job then waited forever. FAIL stops the TaskManager instead, so
    that the job fails and the command says so."""
    config = cluster_config.ClusterConfig(run_dir=str(tmp_path))
    assert cluster_config.flink_config(config, '')['cluster.uncaught-exception-handling'] == 'FAIL'


def test_a_job_whose_workers_keep_dying_ends(tmp_path):
    """Flink restarts no failed job; Spark's master fails an application at its first executor
    that exits with an error, instead of starting another one without end (it counts from 0
    again each time one starts, so only 1 bounds it), and its driver fails the job at the first
    failed task, with that task's error."""
    from pipeline.cluster.local import spark
    config = cluster_config.ClusterConfig(run_dir=str(tmp_path))
    assert cluster_config.flink_config(config, '')['restart-strategy.type'] == 'none'
    spark_config = spark.SparkConfig(run_dir=str(tmp_path))
    assert spark.spark_defaults(spark_config)['spark.deploy.maxExecutorRetries'] == '1'
    assert spark.driver_properties(spark_config)['spark.task.maxFailures'] == '1'


def test_spark_up_sets_the_partitions_and_memory_it_prints(tmp_path):
    """spark-up's --parallelism becomes the driver's spark.default.parallelism, which makes
    Beam's Spark runner's partitions, and the flag that tells the jobs of it; --executor-memory
    the executor's."""
    from pipeline.cluster.local import spark
    config = spark.SparkConfig(run_dir=str(tmp_path), parallelism=40, executor_memory='3g')
    driver = spark.driver_properties(config)
    assert driver['spark.default.parallelism'] == '40' and driver['spark.executor.memory'] == '3g'
    assert spark.beam_flags(config)[-1] == '--spark_default_parallelism=40'


def test_the_jobs_take_every_flag_the_clusters_print(tmp_path):
    """Every flag make flink-up and make spark-up print passes the jobs' check of Beam flags;
    --execution_mode_for_batch is the Flink job server's, not the Python SDK's: the check
    knows it too, and refuses a value the job server would not take."""
    from pipeline import flags
    from pipeline.cluster.local import spark
    for printed in (cluster_config.beam_flags(cluster_config.ClusterConfig(run_dir=str(tmp_path))),
                    spark.beam_flags(spark.SparkConfig(run_dir=str(tmp_path)))):
        for job in ('preprocess', 'score', 'evaluate'):
            argv = {'preprocess': ['--input', 'r.csv', '--output', 'o'],
                    'score': ['--input', 'r.csv', '--output', 'o', '--model', 'm'],
                    'evaluate': ['--data', 'd', '--output', 'o', '--candidate', 'm']}[job]
            _, beam_args = flags.parse(job, argv + printed)
            assert beam_args == printed
    blocking = ['--runner=FlinkRunner', '--execution_mode_for_batch=BATCH_FORCED']
    assert flags.parse('score', ['--input', 'r.csv', '--output', 'o', '--model', 'm',
                                 *blocking])[1] == blocking
    with pytest.raises(SystemExit) as refused:
        flags.parse('score', ['--input', 'r.csv', '--output', 'o', '--model', 'm',
                              '--execution_mode_for_batch=BATCH_FORCE'])
    assert refused.value.code == 2


def test_flink_loads_beams_classes_parent_first_only_with_the_jar_on_its_class_path(tmp_path):
    """Beam keeps an SDK worker between stages only when its runner classes come from Flink's
    own class loader (FlinkExecutableStageContextFactory)."""
    from pipeline.cluster.local import flink
    config = cluster_config.ClusterConfig(run_dir=str(tmp_path))
    assert cluster_config.flink_config(config, '')['classloader.resolve-order'] == 'parent-first'
    env = flink._flink_env(config, '/flink', '-Dx', jar='/cache/job-server.jar')
    assert env['HADOOP_CLASSPATH'] == '/cache/job-server.jar'  # appended after flink-dist
    off = cluster_config.ClusterConfig(run_dir=str(tmp_path), beam_on_taskmanager_classpath=False)
    assert 'classloader.resolve-order' not in cluster_config.flink_config(off, '')


def test_every_spark_address_is_loopback(tmp_path):
    from pipeline.cluster.local import spark
    config = spark.SparkConfig(run_dir=str(tmp_path), job_port=18199)
    driver = spark.driver_properties(config)
    assert driver['spark.driver.host'] == driver['spark.driver.bindAddress'] == '127.0.0.1'
    env = spark._spark_env(config, '/spark')
    assert env['SPARK_LOCAL_IP'] == '127.0.0.1'  # web UIs and block managers
    assert spark.spark_defaults(config)['spark.master.rest.enabled'] == 'false'
    assert config.master_url == 'spark://127.0.0.1:7077'
    assert '--job_endpoint=localhost:18199' in spark.beam_flags(config)


def test_the_clusters_cache_is_the_download_s(tmp_path, monkeypatch):
    """The local clusters keep their downloads where `imdb-sentiment download` keeps the
    archive."""
    monkeypatch.setenv(download.CACHE_ENV, str(tmp_path / 'cache'))
    assert cluster_config.RunDir(run_dir=str(tmp_path)).cache_dir == str(tmp_path / 'cache')
    monkeypatch.delenv(download.CACHE_ENV)
    assert cluster_config.RunDir(run_dir=str(tmp_path)).cache_dir == download.default_cache_dir()
