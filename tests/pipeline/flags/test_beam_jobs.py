"""The Beam jobs' flags: each declared once, so that the jobs' --help cannot drift apart."""

import argparse

from pipeline import flags
from pipeline.flags import beam_jobs

# How the reviews are read and validated: the same for every job that reads them.
READING = ('--max-review-chars', '--max-reject-fraction', '--reshuffle-records',
           '--no-reshuffle-records')


def _helps(parser: argparse.ArgumentParser) -> dict:
    """{option string: its help} of a parser."""
    return {option: action.help for action in parser._actions
            for option in action.option_strings}


def test_evaluate_reads_reviews_with_score_s_flags_and_help():
    """Evaluate names its reviews --data, but reads and validates them as score does."""
    score, evaluate = _helps(flags.parser('score')), _helps(flags.parser('evaluate'))
    for option in READING:
        assert option in score and evaluate.get(option) == score[option], option


def test_every_job_that_reads_reviews_has_the_one_declaration():
    alone = argparse.ArgumentParser(add_help=False)
    beam_jobs.add_reading_args(alone)
    declared = _helps(alone)
    assert sorted(declared) == sorted(READING)
    for command in ('preprocess', 'explore', 'score', 'evaluate'):
        helps = _helps(flags.parser(command))
        assert {o: helps.get(o) for o in declared} == declared, command
