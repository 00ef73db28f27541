"""The ``imdb-sentiment`` command: one subcommand per job.

The command line is parsed once (``pipeline.flags``), before a job module, Beam or
TensorFlow is loaded, so ``--help`` and usage errors answer at once. User mistakes (bad
paths, bad flags, too many rejected records) end with a one-line message and a documented
exit code, never a traceback.
"""

import argparse
import importlib
import os
import sys
from typing import List, Optional, Sequence

from pipeline import flags
from pipeline.runtime import console
# The exit codes are documented in transforms.errors (and the README).
from transforms.errors import (EXIT_OK, EXIT_REJECTS, EXIT_SIGNAL_BASE,  # noqa: F401
                               EXIT_USAGE, UserError)

USAGE = 'usage: imdb-sentiment COMMAND [options]   (imdb-sentiment COMMAND --help for more)'


def _help() -> str:
    lines = [USAGE, '', 'Sentiment analysis of movie reviews as Apache Beam batch jobs.', '',
             'commands:']
    lines += [f'  {name:<12}{spec.summary}' for name, spec in flags.COMMANDS.items()]
    return '\n'.join(lines)


def invoke(command: str, job_args: argparse.Namespace, beam_args: List[str]) -> int:
    """Runs an already parsed command; returns its exit code.

    A UserError is one line on stderr with its exit code; SIGINT and SIGTERM end the
    command with 130 or 143 and say nothing was published; anything else is a bug and
    propagates with its traceback (exit 1)."""
    try:
        module = importlib.import_module(f'pipeline.jobs.{command}')
        return module.main(job_args, beam_args)
    except UserError as e:
        print(f'imdb-sentiment {command}: error: {e}', file=sys.stderr)
        return e.exit_code
    except BaseException as e:  # noqa: B902 - a signal may reach us wrapped by Beam
        signum = console.received_signal()
        if signum is None and not isinstance(e, KeyboardInterrupt):
            raise
        signum = signum or console.signal.SIGINT
        print(f'imdb-sentiment {command}: {console.SIGNALS[signum]}; no output was published',
              file=sys.stderr)
        return EXIT_SIGNAL_BASE + signum


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ('-h', '--help'):
        print(_help())
        return EXIT_OK if argv else EXIT_USAGE
    command, rest = argv[0], argv[1:]
    if command not in flags.COMMANDS:
        print(f'{USAGE}\nimdb-sentiment: error: unknown command {command!r}; '
              f'choose from {", ".join(flags.COMMANDS)}', file=sys.stderr)
        return EXIT_USAGE
    # argparse exits here: 0 after --help, 2 after a usage error.
    job_args, beam_args = flags.parse(command, rest)
    console.configure_logging()
    console.install_signal_handlers()
    try:
        return invoke(command, job_args, beam_args)
    except BrokenPipeError:
        # Standard output closed early (`predict - | head -1`): end quietly, as a Unix
        # tool does; what is left to print would only fail again at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_SIGNAL_BASE + console.signal.SIGPIPE


if __name__ == '__main__':
    sys.exit(main())
