"""The ``imdb-sentiment`` command: one subcommand per job.

User mistakes (bad paths, bad flags, too many rejected records) end with a
one-line message and a documented exit code, never a traceback.
"""

import importlib
import logging
import os
import sys
from typing import Optional, Sequence

# Exit codes, for schedulers.
EXIT_OK = 0
EXIT_FAILURE = 1      # an unexpected error: the traceback is printed
EXIT_USAGE = 2        # bad command line or unusable input paths
EXIT_REJECTS = 3      # the job ran, but rejected more records than allowed

# subcommand -> (module, one-line summary)
COMMANDS = {
    'preprocess': ('pipeline.preprocess',
                   'Validate and clean reviews; build the vocabulary with tf.Transform; write TFRecords.'),
    'train': ('trainer.task',
              'Train the LSTM on preprocess output; export a SavedModel that takes raw text.'),
    'predict': ('trainer.predict', 'Print label and probability for a few review texts.'),
    'score': ('pipeline.score',
              'Score reviews with RunInference; write predictions, metrics and an error report.'),
    'explore': ('pipeline.explore',
                'Profile a dataset (lengths, word frequencies, coverage) into an HTML report.'),
    'run': ('pipeline.run',
            'All of it: explore, preprocess, train and score one dataset; index.html links the reports.'),
    'download': ('pipeline.download',
                 'Fetch and unpack the official aclImdb archive into the cache folder.'),
}

USAGE = 'usage: imdb-sentiment COMMAND [options]   (imdb-sentiment COMMAND --help for more)'


def _help() -> str:
    lines = [USAGE, '', 'Sentiment analysis of movie reviews as Apache Beam batch jobs.', '',
             'commands:']
    lines += [f'  {name:<12}{summary}' for name, (_, summary) in COMMANDS.items()]
    return '\n'.join(lines)


def _configure_logging() -> None:
    """Our progress at INFO; the libraries' chatter only from WARNING up
    (IMDB_SENTIMENT_LOG=DEBUG or INFO shows everything)."""
    level = os.environ.get('IMDB_SENTIMENT_LOG')
    logging.basicConfig(level=level or 'WARNING', format='%(asctime)s %(levelname)s %(message)s')
    for package in ('pipeline', 'transforms', 'trainer', 'analysis'):
        logging.getLogger(package).setLevel(level or 'INFO')


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
    _configure_logging()
    # TensorFlow's C++ start-up chatter hides the job's own progress lines.
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    module = importlib.import_module(COMMANDS[command][0])
    from pipeline.reconcile import RejectFractionExceeded
    from pipeline.download import DownloadError
    from trainer.task import TrainError
    from transforms.inputs import InputError
    try:
        return module.run(rest)
    except (InputError, TrainError, DownloadError) as e:
        print(f'imdb-sentiment {command}: error: {e}', file=sys.stderr)
        return EXIT_USAGE
    except RejectFractionExceeded as e:
        print(f'imdb-sentiment {command}: error: {e}', file=sys.stderr)
        return EXIT_REJECTS
    except KeyboardInterrupt:
        print(f'imdb-sentiment {command}: interrupted; no output was published', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
