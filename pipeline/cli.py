"""The ``imdb-sentiment`` command: one subcommand per job.

User mistakes (bad paths, bad flags, too many rejected records) end with a
one-line message and a documented exit code, never a traceback.
"""

import importlib
import logging
import os
import signal
import sys
import threading
from typing import List, Optional, Sequence

# The exit codes are documented in transforms.errors (and the README).
from transforms.errors import (EXIT_OK, EXIT_REJECTS, EXIT_SIGNAL_BASE,  # noqa: F401
                               EXIT_USAGE, UserError)

# subcommand -> (module, one-line summary)
COMMANDS = {
    'preprocess': ('pipeline.preprocess',
                   'Validate and clean reviews; build the vocabulary with tf.Transform; write TFRecords.'),
    'train': ('pipeline.train',
              'Train the LSTM on preprocess output; export a SavedModel that takes raw text.'),
    'predict': ('pipeline.predict', 'Print label and probability for a few review texts.'),
    'score': ('pipeline.score',
              'Score reviews with RunInference; write predictions, metrics and an error report.'),
    'explore': ('pipeline.explore',
                'Profile a dataset (lengths, word frequencies, coverage) into an HTML report.'),
    'run': ('pipeline.run',
            'All of it: explore, preprocess, train and score one dataset; index.html links the reports.'),
    'download': ('pipeline.download',
                 'Fetch and unpack the official aclImdb archive into the cache folder.'),
}

# The Beam jobs, whose --help the flags module answers without importing the job.
BEAM_JOBS = ('preprocess', 'score', 'explore')

USAGE = 'usage: imdb-sentiment COMMAND [options]   (imdb-sentiment COMMAND --help for more)'


def _help() -> str:
    lines = [USAGE, '', 'Sentiment analysis of movie reviews as Apache Beam batch jobs.', '',
             'commands:']
    lines += [f'  {name:<12}{summary}' for name, (_, summary) in COMMANDS.items()]
    return '\n'.join(lines)


# The libraries whose warnings are not the user's to act on (TensorFlow's start-up notes,
# tf.Transform's "instance dicts", Keras' "shuffle=True ... ignored", Beam's "Resource
# module is not available"): shown only when IMDB_SENTIMENT_LOG asks for them.
_LIBRARY_LOGGERS = ('tensorflow', 'absl', 'apache_beam', 'tensorflow_transform', 'tfx_bsl',
                    'keras', 'h5py', 'matplotlib', 'py.warnings')


def _configure_logging() -> None:
    """Our progress at INFO; the libraries' warnings demoted out of sight, their errors kept
    (IMDB_SENTIMENT_LOG=DEBUG, INFO or WARNING shows the libraries from that level).

    Runs before TensorFlow is imported: its C++ logging reads TF_CPP_MIN_LOG_LEVEL once,
    at import. The lines it writes before reading it ("I0000 ... oneDNN custom operations
    are on", "E0000 ... failed call to cuInit") are dropped from stderr by
    transforms.stderr_filter."""
    level = os.environ.get('IMDB_SENTIMENT_LOG')
    if level != 'DEBUG':
        from transforms import stderr_filter
        stderr_filter.install()
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '0' if level == 'DEBUG' else '3')
    os.environ.setdefault('ABSL_MIN_LOG_LEVEL', '0' if level == 'DEBUG' else '3')
    os.environ.setdefault('GRPC_VERBOSITY', 'ERROR')
    logging.basicConfig(level=level or 'ERROR', format='%(asctime)s %(levelname)s %(message)s')
    logging.captureWarnings(True)  # warnings.warn() -> the py.warnings logger
    for name in _LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(level or 'ERROR')
    for package in ('pipeline', 'transforms', 'trainer', 'analysis'):
        logging.getLogger(package).setLevel(level or 'INFO')
    try:
        from absl import logging as absl_logging  # already loaded by Beam: no cost
        absl_logging.set_verbosity(absl_logging.DEBUG if level == 'DEBUG' else absl_logging.ERROR)
    except ImportError:
        pass


class _Stopped(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM arrives, so that staging folders are removed
    on the way out exactly as for Ctrl-C."""


_SIGNALS = {signal.SIGINT: 'interrupted (SIGINT)', signal.SIGTERM: 'terminated (SIGTERM)'}
_received: List[int] = []


def _on_signal(signum: int, frame) -> None:
    _received.append(signum)
    # Beam logs the exception this raises inside a bundle, with its traceback, as it
    # unwinds; the one line main() prints is what the user needs.
    logging.disable(logging.CRITICAL)
    raise _Stopped(signum) if signum != signal.SIGINT else KeyboardInterrupt()


def _install_signal_handlers() -> None:
    if threading.current_thread() is threading.main_thread():
        for signum in _SIGNALS:
            signal.signal(signum, _on_signal)


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ('-h', '--help'):
        print(_help())
        return EXIT_OK if argv else EXIT_USAGE
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f'{USAGE}\nimdb-sentiment: error: unknown command {command!r}; '
              f'choose from {", ".join(COMMANDS)}', file=sys.stderr)
        return EXIT_USAGE
    if command in BEAM_JOBS and any(a in ('-h', '--help') for a in rest):
        # From the flags alone: neither Beam nor TensorFlow is loaded to answer.
        # argparse prints the help and exits 0, as for every other command.
        from pipeline import flags
        flags.help_parser(command).parse_known_args(rest)
    _configure_logging()
    _install_signal_handlers()
    try:
        module = importlib.import_module(COMMANDS[command][0])
        return module.run(rest)
    except UserError as e:
        print(f'imdb-sentiment {command}: error: {e}', file=sys.stderr)
        return e.exit_code
    except BaseException as e:  # noqa: B902 - a signal may reach us wrapped by Beam
        if not _received and not isinstance(e, KeyboardInterrupt):
            raise
        signum = _received[-1] if _received else signal.SIGINT
        print(f'imdb-sentiment {command}: {_SIGNALS[signum]}; no output was published',
              file=sys.stderr)
        return EXIT_SIGNAL_BASE + signum


if __name__ == '__main__':
    sys.exit(main())
