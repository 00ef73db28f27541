"""A FlinkRunner job refuses a --parallelism that would hang Beam's runner, and a SparkRunner
job the Spark partitions that would.

Beam's portable runners hold a bundle's output until the bundle ends, and both run a whole
partition as one bundle (pipeline/runtime/bundles.py). No cluster is needed: the
check answers before the job contacts one (the job endpoint here listens nowhere).
"""

import os
import subprocess
import sys

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.runtime import bundles
from tests.support.paths import ROOT

MB = 2 ** 20


def test_the_largest_bundle_shrinks_with_the_parallelism():
    per_byte = bundles.preprocess_output(0.8)
    one = bundles.largest_bundle_bytes(100 * MB, per_byte, 1)
    assert bundles.largest_bundle_bytes(100 * MB, per_byte, 4) == round(one / 4)
    needed = bundles.parallelism_needed(100 * MB, per_byte)
    assert bundles.largest_bundle_bytes(100 * MB, per_byte, needed) <= bundles.LIMIT_BYTES
    assert bundles.largest_bundle_bytes(100 * MB, per_byte, needed - 1) > bundles.LIMIT_BYTES


def test_preprocess_sends_back_more_than_a_job_that_only_reads():
    assert bundles.preprocess_output(0.8) > bundles.READ_PER_INPUT_BYTE
    assert bundles.preprocess_output(0.01) == bundles.READ_PER_INPUT_BYTE


def _sparse_csv(path, size):
    """A CSV of ``size`` bytes on paper (a header, then a hole): only its size is read."""
    with open(path, 'wb') as f:
        f.write(b'review,sentiment\n')
        f.truncate(size)
    return str(path)


def _job(tmp_path, job, *flags, runner='FlinkRunner'):
    return subprocess.run(
        [sys.executable, '-m', 'pipeline.cli', job,
         '--input', _sparse_csv(tmp_path / 'big.csv', 300 * MB), '--output',
         str(tmp_path / 'out'), f'--runner={runner}', '--job_endpoint=127.0.0.1:9',
         '--environment_type=LOOPBACK', *flags],
        cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize('job', ['preprocess', 'explore'])
def test_a_parallelism_too_small_is_a_usage_error_before_any_work(tmp_path, job):
    """Preprocess's largest stage is the transform; explore's, as score's, the read records.
    Only preprocess has --ignore-memory-estimate, so only its message offers it."""
    per_byte = (bundles.preprocess_output(0.8) if job == 'preprocess'
                else bundles.READ_PER_INPUT_BYTE)
    needed = bundles.parallelism_needed(300 * MB, per_byte)
    done = _job(tmp_path, job, '--parallelism=2')
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if 'error' in line]
    assert len(errors) == 1 and f'--parallelism={needed} or more' in errors[0], done.stderr
    assert ('--ignore-memory-estimate' in errors[0]) == (job == 'preprocess'), errors[0]
    assert 'Traceback' not in done.stderr
    assert sorted(os.listdir(tmp_path)) == ['big.csv']


def test_other_runners_are_not_refused(tmp_path, caplog):
    path = _sparse_csv(tmp_path / 'big.csv', 300 * MB)
    with caplog.at_level('WARNING'):
        for runner in ('DirectRunner', 'DataflowRunner'):
            bundles.check_bundles('preprocess', [path],
                                  PipelineOptions([f'--runner={runner}', '--parallelism=1']),
                                  bundles.preprocess_output(0.8))
    assert not caplog.records


def test_no_parallelism_warns_instead(tmp_path, caplog):
    path = _sparse_csv(tmp_path / 'big.csv', 300 * MB)
    with caplog.at_level('WARNING'):
        bundles.check_bundles('preprocess', [path], PipelineOptions(['--runner=flink']),
                              bundles.preprocess_output(0.8))
    assert any('--parallelism=' in r.getMessage() for r in caplog.records)


def test_spark_partitions_too_few_are_a_usage_error_before_any_work(tmp_path):
    """Spark's partitions are the job server's spark.default.parallelism, which the job is told
    (Spark's default of 2 when it is not, below): the refusal names the cluster's setting and
    the flag, once."""
    needed = bundles.parallelism_needed(300 * MB, bundles.preprocess_output(0.8))
    flags = ['--spark_default_parallelism=4']
    done = _job(tmp_path, 'preprocess', *flags, runner='SparkRunner')
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if 'error' in line]
    assert len(errors) == 1, done.stderr
    assert (f'make spark-up SPARK_UP_FLAGS=--parallelism={needed})' in errors[0]
            and f'--spark_default_parallelism={needed} ' in errors[0]), errors[0]
    assert flags[0] in errors[0]
    assert 'Traceback' not in done.stderr
    assert sorted(os.listdir(tmp_path)) == ['big.csv']


@pytest.mark.parametrize('size_mb,partitions,refused', [
    (300, None, True), (300, 16, False), (20, None, False)])
def test_spark_is_refused_only_past_the_limit(tmp_path, caplog, size_mb, partitions, refused):
    """The partitions the job is told count, whatever --parallelism (which Spark ignores)."""
    path = _sparse_csv(tmp_path / 'big.csv', size_mb * MB)
    told = [f'--spark_default_parallelism={partitions}'] if partitions else []
    options = PipelineOptions(['--runner=SparkRunner', '--parallelism=64', *told])
    with caplog.at_level('WARNING'):
        if refused:
            with pytest.raises(bundles.BundleTooLarge,
                               match="Spark's default 2 partitions.*--ignore-memory-estimate"):
                bundles.check_bundles('preprocess', [path], options,
                                      bundles.preprocess_output(0.8), try_anyway=False)
        else:
            bundles.check_bundles('preprocess', [path], options, bundles.preprocess_output(0.8))
    assert not caplog.records


def test_ignore_memory_estimate_turns_a_spark_refusal_into_a_warning(tmp_path, caplog):
    path = _sparse_csv(tmp_path / 'big.csv', 300 * MB)
    with caplog.at_level('WARNING'):
        bundles.check_bundles('preprocess', [path], PipelineOptions(['--runner=SparkRunner']),
                              bundles.preprocess_output(0.8), try_anyway=True)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and 'spark.default.parallelism=' in said[0], said
