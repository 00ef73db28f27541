"""A FlinkRunner job refuses a --parallelism that would hang Beam's runner; a SparkRunner job
is warned.

Beam's portable runners hold a bundle's output until the bundle ends, and Flink's batch mode
runs a whole partition as one bundle (pipeline/runtime/bundles.py). No cluster is needed: the
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


def _job(tmp_path, job, *flags):
    return subprocess.run(
        [sys.executable, '-m', 'pipeline.cli', job,
         '--input', _sparse_csv(tmp_path / 'big.csv', 300 * MB), '--output',
         str(tmp_path / 'out'), '--runner=FlinkRunner', '--job_endpoint=127.0.0.1:9',
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


@pytest.mark.parametrize('size_mb,warned', [(300, True), (20, False)])
def test_spark_is_warned_past_the_limit_never_refused(tmp_path, caplog, size_mb, warned):
    """Spark's partitions do not follow --parallelism: a big input is warned of, with what
    happened at 250k reviews, and the job goes on."""
    path = _sparse_csv(tmp_path / 'big.csv', size_mb * MB)
    with caplog.at_level('WARNING'):
        bundles.check_bundles('preprocess', [path],
                              PipelineOptions(['--runner=SparkRunner', '--parallelism=1']),
                              bundles.preprocess_output(0.8))
    said = [r.getMessage() for r in caplog.records]
    assert bool(said) == warned, said
    if warned:
        assert 'OutOfMemoryError' in said[0] and 'Spark' in said[0], said
