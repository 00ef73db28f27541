"""What a user sees: progress lines, and none of the libraries' non-actionable start-up noise."""

import logging
import os
import subprocess
import sys

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to


from transforms import activity
from transforms.beam import progress
from pipeline.runtime import stderr_filter
from tests.support.paths import ROOT
from tests.support.processes import NOISE, clean_env


NATIVE_LINES = [
    b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR',
    b'I0000 00:00:1795997020.213092    3684 port.cc:153] oneDNN custom operations are on.',
    b'W0000 00:00:1795997020.213092    3684 mkl_util.h:1] oneDNN supports DT_BOOL only on '
    b'platforms with AVX-512.',
    b'E0000 00:00:1795997020.218091    3684 cuda_executor.cc:1] failed call to cuInit: '
    b'UNKNOWN ERROR (303)',
    b'2026-11-30 00:03:36.100000: I tensorflow/core/util/port.cc:113] oneDNN custom operations',
]
KEPT_LINES = [
    b'2026-11-30 00:03:36,100 INFO Step 1/5: imdb-sentiment explore',
    b'2026-11-30 00:03:36,100 WARNING Removing out.partial-1234abcd',
    b'E0000 00:00:1795997020.218091    3684 some_op.cc:1] Out of memory allocating tensor',
    b'Traceback (most recent call last):',
    b'imdb-sentiment run: error: --groups x.csv: no such file',
]


def test_native_noise_is_recognised_and_real_lines_are_not():
    assert all(stderr_filter.is_noise(line) for line in NATIVE_LINES)
    assert not any(stderr_filter.is_noise(line) for line in KEPT_LINES)


def test_the_filter_passes_everything_else_through_in_order():
    read_in, write_in = os.pipe()
    read_out, write_out = os.pipe()
    text = b'\n'.join(NATIVE_LINES[:2] + KEPT_LINES[:2] + NATIVE_LINES[2:] + KEPT_LINES[2:])
    os.write(write_in, text + b'\n12% |###   | 10/84 MB\r')
    os.close(write_in)
    stderr_filter._pump(read_in, write_out)
    os.close(write_out)
    with os.fdopen(read_out, 'rb') as f:
        out = f.read()
    assert out == b''.join(line + b'\n' for line in KEPT_LINES) + b'12% |###   | 10/84 MB\r'


def test_log_progress_passes_every_element_through_and_counts_them(caplog):
    caplog.set_level(logging.INFO, logger='transforms.beam.progress')
    with TestPipeline() as p:
        out = (p | beam.Create(range(50))
               | beam.ParDo(progress.LogProgress('numbers', every_s=0.0)))
        assert_that(out, equal_to(list(range(50))))
    assert activity.counted().get('numbers', 0) >= 50
    assert any('numbers: ' in r.getMessage() and 'so far' in r.getMessage()
               for r in caplog.records)


def test_loading_tensorflow_after_configuring_logs_prints_nothing():
    code = ('from pipeline.runtime import console\nconsole.configure_logging()\n'
            'import tensorflow, tensorflow_transform, keras\nprint("loaded")')
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, env=clean_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'loaded'
    noisy = [line for line in out.stderr.splitlines() if any(n in line for n in NOISE)]
    assert not noisy, noisy


def test_without_the_filter_the_noise_is_there():
    """The check above could fail: the same import, unfiltered (IMDB_SENTIMENT_LOG=DEBUG)."""
    code = ('from pipeline.runtime import console\nconsole.configure_logging()\nimport tensorflow')
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, env=dict(clean_env(), IMDB_SENTIMENT_LOG='DEBUG'))
    assert out.returncode == 0, out.stderr
    assert any(n in out.stderr for n in NOISE), out.stderr[-2000:]


