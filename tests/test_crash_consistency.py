"""Crash consistency of publishing (ALICE- and CrashMonkey-style): SIGKILL at each filesystem
step of a publish, then at each step of the next run, then a run that finishes."""

import os
import signal

import pytest

from tests.support.publish_driver import drive, holds_or_recovers, version_of

pytestmark = pytest.mark.e2e  # about 250 short processes


@pytest.mark.parametrize('exchange', ['yes', 'no'])
def test_a_kill_at_any_step_of_a_publish_and_of_the_next_run_never_loses_the_output(
        tmp_path, exchange):
    """SIGKILL before and after each filesystem step of publishing v2 over v1 (the atomic
    exchange, or the two renames where the filesystem has none), then the next run killed at
    each of its own steps in turn, then a run that finishes: at every point the output is
    whole, or the next run restores a whole copy before it deletes anything."""
    probe = tmp_path / 'probe' / 'out'
    drive(probe, 'v1', exchange=exchange)
    steps = drive(probe, 'v2', exchange=exchange)
    assert steps >= (7 if exchange == 'yes' else 9)
    cases = 0
    for kill_at in range(steps):
        for when in ('before', 'after'):
            folder = tmp_path / f'{kill_at}-{when}'
            final = folder / 'out'
            drive(final, 'v1', exchange=exchange)
            assert drive(final, 'v2', kill_at, when, exchange) == -signal.SIGKILL
            holds_or_recovers(str(final), {'v1', 'v2'})
            # The next run is killed too, at each of its steps before it publishes:
            # recovering (restore, then remove leftovers) and staging.
            rerun = 0
            while True:
                if drive(final, 'v3', rerun, 'before', exchange) != -signal.SIGKILL:
                    break  # it finished: no step left to kill at
                holds_or_recovers(str(final), {'v1', 'v2', 'v3'})
                rerun += 1
                cases += 1
            assert version_of(str(final)) == 'v3'
            drive(final, 'v4', exchange=exchange)
            assert version_of(str(final)) == 'v4'
            assert sorted(os.listdir(folder)) == ['out']  # nothing left beside it
    assert cases > 2 * steps


