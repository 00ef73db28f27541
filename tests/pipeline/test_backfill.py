"""A backfill's loop without pipelines: its exit code, a line per date, past a failing date,
after a signal, and a night whose neighbour changed while it ran."""

import logging
import signal

import pytest

from pipeline import backfill
from pipeline.runtime import console

DATES = ['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04']


class Nights:
    """What a root holds: the dates published with this model; ``skip`` as the score job's."""

    def __init__(self, codes=None):
        self.done, self.ran, self.codes = set(), [], codes or {}

    def skip(self, date):
        return 'already scored with this model' if date in self.done else None

    def run(self, date):
        self.ran.append(date)
        code = self.codes.get(date, 0)
        if code == 0:
            self.done.add(date)
        return code


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.INFO, logger='pipeline.backfill')
    yield caplog
    logging.disable(logging.NOTSET)


def test_the_exit_code_of_a_range():
    assert backfill.backfill_exit([0, 5, 0]) == 0  # every date with input was scored
    assert backfill.backfill_exit([5, 5]) == 5      # nothing had input: nothing written
    assert backfill.backfill_exit([0, 3, 5, 75]) == 75
    assert backfill.backfill_exit([0, 5, 1, 3]) == 1
    assert backfill.backfill_exit([0, 143]) == 143
    assert backfill.backfill_exit([]) == 5


def test_a_date_without_input_does_not_fail_a_backfill_and_the_summary_says_so(log):
    nights = Nights({'2026-11-02': 5})
    assert backfill.backfill(DATES, nights.skip, nights.run) == 0
    assert nights.ran == DATES
    assert '2026-11-02: exit 5, no input for this date' in log.text
    assert 'Backfill of 4 dates: 3 scored or already scored, 1 without input, 0 failed ' \
           'or interrupted, 0 not run: exit 0' in log.text


def test_a_bug_on_one_date_does_not_stop_the_others(log):
    nights = Nights()

    def run_date(date):
        if date == '2026-11-02':
            raise TypeError("list indices must be integers or slices, not str")
        return nights.run(date)

    assert backfill.backfill(DATES, nights.skip, run_date) == 1
    assert nights.ran == ['2026-11-01', '2026-11-03', '2026-11-04']
    assert '2026-11-02: exit 1, failed: TypeError: list indices' in log.text
    assert '2026-11-04: exit 0, scored' in log.text


def test_after_a_signal_the_summary_says_what_finished_and_what_did_not(log):
    nights = Nights()

    def run_date(date):
        if date == '2026-11-02':  # what the console does on SIGTERM, then cli.invoke's code
            logging.disable(logging.CRITICAL)
            return 128 + signal.SIGTERM
        return nights.run(date)

    assert backfill.backfill(DATES, nights.skip, run_date) == 143
    assert '2026-11-01: exit 0, scored' in log.text
    assert '2026-11-02: exit 143, interrupted' in log.text
    assert '2026-11-03: not run' in log.text and '2026-11-04: not run' in log.text
    assert '2 not run: exit 143' in log.text


def test_a_signal_between_nights_still_prints_the_summary(log):
    nights = Nights()

    def skip(date):
        if date == '2026-11-03':
            raise console.Stopped(signal.SIGTERM)
        return nights.skip(date)

    with pytest.raises(console.Stopped):
        backfill.backfill(DATES, skip, nights.run)
    assert '2026-11-02: exit 0, scored' in log.text and '2026-11-03: not run' in log.text


def test_a_night_whose_neighbour_changed_meanwhile_is_scored_again(log):
    done, stale, ran = set(), set(), []

    def skip(date):
        return 'already scored with this model' if date in done - stale else None

    def run_date(date):
        ran.append(date)
        done.add(date)
        stale.discard(date)
        if date == '2026-11-04':  # another process rescored the 2nd meanwhile
            stale.add('2026-11-03')
        return 0

    done.add('2026-11-01')
    assert backfill.backfill(DATES, skip, run_date) == 0
    assert ran == ['2026-11-02', '2026-11-03', '2026-11-04', '2026-11-03']
    assert '2026-11-01: exit 0, skipped: already scored with this model' in log.text
    assert '2026-11-03: exit 0, scored again: its neighbour changed meanwhile' in log.text
    assert backfill.backfill(DATES, skip, run_date, force=True) == 0
    assert ran[4:] == [*DATES, '2026-11-03']  # forced: each once, then the stale one
