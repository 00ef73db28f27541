"""The flags of every Beam job, as plain argparse: no Beam, no TensorFlow.

``pipeline.options`` wraps them in Beam ``PipelineOptions`` classes to run a job;
the command line builds ``--help`` from them alone, so asking for help loads neither
Beam nor TensorFlow and answers at once.
"""

import argparse
import ast
import os
from typing import Callable, Sequence

from transforms import features
from transforms.cleaning import CleaningConfig

BEAM_OPTIONS_HELP = """\
Any Beam pipeline option may follow, for example:
  --runner=DirectRunner (default) | DataflowRunner | FlinkRunner
  --direct_running_mode=multi_processing --direct_num_workers=2
  --project=P --region=R --temp_location=gs://B/tmp --setup_file=./setup.py (Dataflow)
  --flink_master=HOST:PORT --environment_type=LOOPBACK|DOCKER|EXTERNAL (Flink)
"""


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f'{text} is not between 0 and 1')
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'{text} is not a positive integer')
    return value


def add_input_args(parser) -> None:
    parser.add_argument(
        '--input', action='append', metavar='PATH',
        help='A Kaggle-layout CSV file (header review,sentiment; a glob is fine) or an '
             'aclImdb split folder holding pos/ and neg/ (e.g. aclImdb/train). Repeat for several.')
    parser.add_argument('--output', metavar='DIR',
                        help='Output folder; replaced only when the job succeeds.')
    parser.add_argument(
        '--max-review-chars', type=_positive_int, default=features.DEFAULT_MAX_REVIEW_CHARS,
        help='Reject reviews longer than this many characters (default %(default)s).')
    parser.add_argument(
        '--max-reject-fraction', type=_fraction, default=features.DEFAULT_MAX_REJECT_FRACTION,
        help='Fail (exit 3, after writing everything) when more than this share of the '
             'records is rejected (default %(default)s).')
    _add_bool(parser, 'reshuffle-records', False,
              'spread the records of each input file over all workers (for a few big files '
              'on a cluster; on the DirectRunner it holds every record in memory)')


def add_cleaning_args(parser) -> None:
    """The optional text-cleaning steps, shared by preprocess and explore."""
    _add_bool(parser, 'keep-marks', True, "'!' and '?' become tokens of their own")
    _add_bool(parser, 'remove-stopwords', False,
              'drop English stop words (negations such as not/no/never are kept)')
    _add_bool(parser, 'lemmatize', False,
              "map words to lemmas with simplemma's English dictionary")


def add_preprocess_args(parser) -> None:
    """Flags of the preprocess job (besides the input and cleaning flags)."""
    parser.add_argument(
        '--eval-fraction', type=_fraction, default=features.DEFAULT_EVAL_FRACTION,
        help='Share of reviews in the eval split, chosen by a hash of the group '
             '(--groups) or else of the normalized text (default %(default)s).')
    parser.add_argument(
        '--test-fraction', type=_fraction, default=features.DEFAULT_TEST_FRACTION,
        help='Share of reviews held out as a test split (by the same hash, next to the '
             'eval split; movie-disjoint with --groups), written only as raw reviews '
             '(test_reviews/test-*.csv) for scoring: never transformed, trained on, '
             'early-stopped on or fused on (default %(default)s: none).')
    parser.add_argument(
        '--groups', metavar='PATH',
        help='Split by group instead: a CSV giving each review a group (e.g. its movie), '
             'so that all reviews of a group land on the same side. Header "id,group" '
             '(ids as the job gives them, e.g. train.csv:7), or the shared '
             '"row,movie,rating" layout together with --groups-for. Reviews without a '
             'group fall back to the hash of their normalized text.')
    parser.add_argument(
        '--groups-for', metavar='NAME',
        help='With a row,movie grouping file: the name of the input CSV whose 1-based '
             'data rows it numbers, e.g. --groups ../shared/data/imdb/train_movies.csv '
             '--groups-for train.csv (its reviews have ids train.csv:<row>).')
    parser.add_argument(
        '--unlabeled', action='append', default=[], metavar='PATH',
        help='Reviews without labels (repeatable): a CSV with a "review" column such as '
             '../shared/data/imdb/unsup.csv, or an aclImdb folder such as aclImdb/train '
             '(its unsup/ reviews are read too). They are validated and transformed with '
             'the vocabulary of the train split, never labelled or split, and written as '
             'unlabeled-*.tfrecord.gz; the trainer learns its word vectors from them '
             'together with the train split. Labels they carry are ignored.')
    parser.add_argument(
        '--max-tokens', type=_positive_int, default=features.DEFAULT_MAX_TOKENS,
        help='Length of each token-id sequence; shorter reviews are padded with 0 '
             '(default %(default)s).')
    parser.add_argument(
        '--truncate', choices=[features.TRUNCATE_KEEP_START, features.TRUNCATE_KEEP_END],
        default=features.TRUNCATE_KEEP_START,
        help='Which part of a long review to keep (default %(default)s).')
    parser.add_argument(
        '--vocab-size', type=_positive_int, default=features.DEFAULT_VOCAB_TOP_K,
        help='Keep at most this many most frequent tokens (default %(default)s).')
    parser.add_argument(
        '--min-frequency', type=_positive_int, default=features.DEFAULT_FREQUENCY_THRESHOLD,
        help='Drop tokens seen fewer times than this in the train split (default %(default)s).')
    parser.add_argument(
        '--oov-buckets', type=_positive_int, default=features.DEFAULT_NUM_OOV_BUCKETS,
        help='Hash buckets for out-of-vocabulary tokens (default %(default)s).')
    parser.add_argument(
        '--ngram-max', type=int, default=features.DEFAULT_NGRAM_MAX,
        help='Also write each review\'s binary bag of 1..N-grams (ngram_ids) for the '
             'trainer\'s linear n-gram branch; 0 writes none (default %(default)s).')
    parser.add_argument(
        '--ngram-vocab-size', type=_positive_int, default=features.DEFAULT_NGRAM_VOCAB_TOP_K,
        help='Keep at most this many most frequent n-grams (default %(default)s).')
    parser.add_argument(
        '--ngram-min-frequency', type=_positive_int,
        default=features.DEFAULT_NGRAM_FREQUENCY_THRESHOLD,
        help='Drop n-grams seen fewer times than this in the train split '
             '(default %(default)s).')


def add_score_args(parser) -> None:
    """Flags of the score job (besides the input flags)."""
    parser.add_argument('--model', metavar='DIR',
                        help='Model folder written by `imdb-sentiment train`, or a folder '
                             'of such exports (versions): then the newest complete one.')
    parser.add_argument('--min-batch-size', type=_positive_int, default=16,
                        help='Smallest batch RunInference sends the model (default %(default)s).')
    parser.add_argument('--max-batch-size', type=_positive_int, default=256,
                        help='Largest batch RunInference sends the model (default %(default)s).')
    parser.add_argument('--top-k', type=int, default=10,
                        help='Most confident false positives and negatives to report '
                             '(default %(default)s; 0 for none).')
    _add_bool(parser, 'explain', True,
              'highlight the words that drove each reported error (occlusion)')
    _add_bool(parser, 'include-text', True, 'write the review text into the predictions')
    _add_bool(parser, 'vocab-coverage', True,
              "measure the share of the text's tokens the model's vocabulary knows")
    parser.add_argument(
        '--ratings', metavar='PATH',
        help='A CSV of star ratings for reviews whose file names do not carry one (CSV '
             'inputs), so metrics and the report break the error rate down by rating. '
             'Header "id,rating" (ids as the job gives them, e.g. train.csv:7), or the '
             'shared "row,movie,rating" layout together with --ratings-for; ratings are '
             'whole numbers from 1 to 10. aclImdb reviews keep the rating in their file '
             'name; reviews the file does not list have none.')
    parser.add_argument(
        '--ratings-for', metavar='NAME',
        help='With a row,movie,rating file: the name of the input CSV whose 1-based data '
             'rows it numbers, e.g. --ratings ../shared/data/imdb/train_movies.csv '
             '--ratings-for train.csv (its reviews have ids train.csv:<row>).')
    parser.add_argument(
        '--date', nargs='?', const='today', metavar='YYYY-MM-DD',
        help='Nightly mode: write into OUTPUT/dt=YYYY-MM-DD/ (a bare --date means today, '
             'UTC), replacing that partition only when the run succeeds, and compare '
             'with the latest earlier night in drift.json.')


def add_explore_args(parser) -> None:
    """Flags of the explore job (besides the input and cleaning flags)."""
    parser.add_argument(
        '--top-words', type=_positive_int, default=features.DEFAULT_TOP_WORDS,
        help='Most frequent words listed per label, and most discriminative words '
             'per side (default %(default)s).')


def cleaning_config(flags) -> CleaningConfig:
    """From CleaningOptions (or parsed flags with the same names)."""
    return CleaningConfig(keep_marks=flags.keep_marks, remove_stopwords=flags.remove_stopwords,
                          lemmatize=flags.lemmatize)


def _add_bool(parser, name: str, default: bool, text: str) -> None:
    """--NAME / --no-NAME."""
    parser.add_argument(f'--{name}', action=argparse.BooleanOptionalAction, default=default,
                        help=f'{text[0].upper()}{text[1:]} (default: '
                             f'{"--" if default else "--no-"}{name}).')


# Each Beam job's flags, in the order its --help lists them.
JOB_FLAGS = {
    'preprocess': (add_input_args, add_preprocess_args, add_cleaning_args),
    'explore': (add_input_args, add_cleaning_args, add_explore_args),
    'score': (add_input_args, add_score_args),
}


def job_parser(prog: str, description: str,
               adders: Sequence[Callable]) -> argparse.ArgumentParser:
    """The argparse parser of a Beam job: its own flags, then a note on Beam's."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, epilog=BEAM_OPTIONS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    for add in adders:
        add(parser)
    return parser


def help_parser(job: str) -> argparse.ArgumentParser:
    """The parser ``imdb-sentiment JOB --help`` prints, with the job module's docstring,
    read from its source so that the module (and Beam) is not imported."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f'{job}.py')
    with open(path, encoding='utf-8') as f:
        description = ast.get_docstring(ast.parse(f.read()), clean=False)
    return job_parser(f'imdb-sentiment {job}', description, JOB_FLAGS[job])
