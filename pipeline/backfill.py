"""A backfill: a range of dates, each its own night (``pipeline.nightly``), in order.

It goes on past a failing date, skips a date already scored with the same model whose drift
is still current, prints one line per date and a summary (after a signal too), and ends
with one exit code for the range (``backfill_exit``).
"""

import logging
from typing import Callable, Dict, List, Optional, Tuple

from pipeline.runtime import console
from pipeline.runtime.console import SIGNALS
from transforms.errors import (EXIT_FAILURE, EXIT_LOCKED, EXIT_NO_INPUT, EXIT_OK, EXIT_REJECTS,
                               EXIT_SIGNAL_BASE, EXIT_USAGE)

_LOG = logging.getLogger(__name__)

# The exit codes a backfill may end with, least bad first (any other counts as a failure);
# a signal stops it at once.
_SEVERITY = {code: rank for rank, code in enumerate(
    (EXIT_OK, EXIT_NO_INPUT, EXIT_REJECTS, EXIT_LOCKED, EXIT_USAGE, EXIT_FAILURE))}
_SIGNALLED = {EXIT_SIGNAL_BASE + signum for signum in SIGNALS}


def worst(codes: List[int]) -> int:
    return max(codes, key=lambda c: _SEVERITY.get(c, _SEVERITY[EXIT_FAILURE]), default=EXIT_OK)


def backfill_exit(codes: List[int]) -> int:
    """A backfill's exit code from its dates': a signal's; else the worst failure's; else 0
    when some date is scored (or was already) and the others had no input; 5 only when no
    date had input (nothing written)."""
    signalled = [c for c in codes if c in _SIGNALLED]
    if signalled:
        return signalled[-1]
    failed = [c for c in codes if c not in (EXIT_OK, EXIT_NO_INPUT)]
    if failed:
        return worst(failed)
    return EXIT_OK if EXIT_OK in codes else EXIT_NO_INPUT


def backfill(dates: List[str], skip: Callable[[str], Optional[str]],
             run_date: Callable[[str], int], force: bool = False) -> int:
    """Runs ``run_date`` for each date in order (each its own partition), going on past a
    failing date; ``skip(date)`` says why a date needs no run (already scored with this
    model, its drift against the night before still current), or None. Unless ``force``,
    such dates are skipped. Then, once, a night whose neighbour another process published
    meanwhile is scored again, so its drift compares with the night before it.

    Logs one line per date, what did not run after a signal included, and a summary;
    returns ``backfill_exit`` of the dates' codes."""
    outcomes: Dict[str, Tuple[int, str]] = {}
    try:
        for date in dates:
            why = None if force else skip(date)
            if why:
                outcomes[date] = (EXIT_OK, f'skipped: {why}')
                continue
            outcomes[date] = _run(date, run_date)
            if outcomes[date][0] in _SIGNALLED:
                break
        else:
            for date in [d for d in dates if outcomes[d][0] == EXIT_OK]:
                if skip(date) is None:  # a neighbour came or changed while we ran
                    code, what = _run(date, run_date)
                    outcomes[date] = (code, f'{what} again: its neighbour changed meanwhile')
                    if code in _SIGNALLED:
                        break
    finally:
        _summarize(dates, outcomes)
    return backfill_exit([code for code, _ in outcomes.values()])


def _run(date: str, run_date: Callable[[str], int]) -> Tuple[int, str]:
    try:
        code = run_date(date)
    except Exception as e:  # noqa: BLE001 - a bug on one date must not end the backfill
        _LOG.error('%s: failed with %s: %s', date, type(e).__name__, e, exc_info=True)
        return EXIT_FAILURE, f'failed: {type(e).__name__}: {e}'
    if code in _SIGNALLED:
        return code, 'interrupted: its night was not published'
    return code, _OUTCOMES.get(code, 'failed')


def _summarize(dates: List[str], outcomes: Dict[str, Tuple[int, str]]) -> None:
    console.resume_logging()  # a signal silenced the log; this summary is what is left to say
    for date in dates:
        code, what = outcomes.get(date, (None, 'not run'))
        _LOG.info('%s: %s', date, what if code is None else f'exit {code}, {what}')
    codes = [code for code, _ in outcomes.values()]
    counted = {what: sum(1 for c in codes if c == code)
               for what, code in (('scored or already scored', EXIT_OK),
                                  ('without input', EXIT_NO_INPUT))}
    failed = sum(1 for c in codes if c not in (EXIT_OK, EXIT_NO_INPUT))
    _LOG.info('Backfill of %d dates: %s, %d failed or interrupted, %d not run: exit %d',
              len(dates), ', '.join(f'{n} {what}' for what, n in counted.items()), failed,
              len(dates) - len(outcomes), backfill_exit(codes))


_OUTCOMES = {EXIT_OK: 'scored', EXIT_USAGE: 'usage error: fix the command or the paths',
             EXIT_REJECTS: 'the data failed it: the night is kept as it was, see dt=D.failed-*',
             EXIT_NO_INPUT: 'no input for this date: nothing written for it',
             EXIT_LOCKED: 'another run held the date', EXIT_FAILURE: 'failed: see the log'}
