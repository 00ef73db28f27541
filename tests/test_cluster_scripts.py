"""The local cluster's scripts without a cluster: its Flink config, its hosts files, and stopping
processes by pid file only (real processes: ``sleep``)."""

import os
import sys
import time

import pytest

from pipeline.cluster.local import config as cluster_config
from pipeline.cluster.local import processes


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


def _sleeper(tmp_path, name='sleeper', argv=None):
    pid = processes.start(name, argv or ['sleep', '60'], str(tmp_path / 'pids'),
                          str(tmp_path / f'{name}.log'))
    [record] = [r for r in processes.recorded(str(tmp_path / 'pids')) if r['name'] == name]
    return pid, record


def test_stop_ends_the_recorded_process_and_removes_its_pid_file(tmp_path):
    pid, record = _sleeper(tmp_path)
    assert processes.is_running(record)
    assert processes.stop(record, timeout=5)
    assert not processes.alive(pid)
    assert processes.recorded(str(tmp_path / 'pids')) == []


def test_stop_never_signals_a_process_that_only_reuses_the_pid(tmp_path):
    """A pid file whose start time is not the running process's (the pid was reused) is stale."""
    pid, record = _sleeper(tmp_path)
    try:
        record['start_time'] = str(int(record['start_time']) - 1)
        assert not processes.is_running(record)
        assert not processes.stop(record, timeout=5)
        time.sleep(0.2)
        assert processes.alive(pid)
    finally:
        os.kill(pid, 15)
        os.waitpid(pid, 0)


def test_stop_also_ends_the_children_it_left(tmp_path):
    """A worker pool's SDK workers: children of the recorded process."""
    script = 'import subprocess, time; subprocess.Popen(["sleep", "60"]); time.sleep(60)'
    pid, record = _sleeper(tmp_path, 'parent', [sys.executable, '-c', script])
    deadline = time.monotonic() + 10
    while not processes.children(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    [child] = processes.children(pid)
    assert processes.stop(record, timeout=5)
    time.sleep(0.2)
    assert not processes.alive(pid) and not processes.alive(child)


# --- Both engines: flags, loopback, job-server builds, stop on a failed start -----------------

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


def _pom_properties(path):
    import xml.etree.ElementTree as ET
    ns = {'m': 'http://maven.apache.org/POM/4.0.0'}
    root = ET.parse(path).getroot()
    props = {child.tag.split('}')[1]: child.text for child in root.find('m:properties', ns)}
    source = root.find('m:build/m:sourceDirectory', ns)
    return props, None if source is None else source.text


def test_both_job_servers_are_built_from_the_versions_install_names_and_one_server_factory():
    from pipeline.cluster.local import install
    flink_props, _ = _pom_properties(install.FLINK_JOB_SERVER.pom)
    spark_props, source = _pom_properties(install.SPARK_JOB_SERVER.pom)
    assert flink_props['beam.version'] == spark_props['beam.version'] == \
        install.BEAM_JOB_SERVER_VERSION
    assert flink_props['flink.minor'] == install.FLINK_RUNNER_MINOR
    assert spark_props['spark.version'] == install.SPARK_VERSION
    assert source == '${project.basedir}/../jobserver/src/main/java'
    factories = [os.path.join(d, n) for d, _, names in os.walk(os.path.dirname(install.HERE))
                 for n in names if n == 'ServerFactory.java']
    assert len(factories) == 1, factories
    # Each jar is rebuilt when its own pom or the shared source changes, and only then.
    assert install._source_digest(install.FLINK_JOB_SERVER) != \
        install._source_digest(install.SPARK_JOB_SERVER)


def test_a_failed_start_stops_every_process_started_before_it(tmp_path):
    from pipeline.cluster.local import lifecycle
    config = cluster_config.RunDir(run_dir=str(tmp_path / 'run'))
    started = []
    with pytest.raises(RuntimeError, match='never ready'):
        with lifecycle.starting(config, 'make x-down') as cluster:
            started.append(cluster.start('first', ['sleep', '60']))
            started.append(cluster.start('second', ['sleep', '60']))
            cluster.wait('never ready', lambda: False, timeout=1)
    time.sleep(0.2)
    assert started and not any(processes.alive(pid) for pid in started)
    assert processes.recorded(config.pid_dir) == []


def test_up_refuses_a_run_dir_whose_cluster_still_runs(tmp_path):
    from pipeline.cluster.local import lifecycle
    config = cluster_config.RunDir(run_dir=str(tmp_path / 'run'))
    with lifecycle.starting(config, 'make x-down') as cluster:
        pid = cluster.start('only', ['sleep', '60'])
    try:
        with pytest.raises(RuntimeError, match='make x-down'):
            with lifecycle.starting(config, 'make x-down'):
                pass
        assert processes.alive(pid)  # the refusal stopped nothing
    finally:
        assert lifecycle.down(config, log=lambda *_: None) == ['only']
