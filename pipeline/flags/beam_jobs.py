"""The flags of the Beam jobs (preprocess, explore, score, evaluate): plain argparse, no Beam."""

from transforms import schema
from transforms.tft.cleaning import CleaningConfig
from pipeline.flags.types import add_bool, fraction, positive_int

DEFAULT_TOP_WORDS = 30          # explore: words listed per label, and per side of the log-odds


def add_input_args(parser) -> None:
    """Inputs, output and validation: shared by every job that reads reviews."""
    parser.add_argument(
        '--input', action='append', metavar='PATH', required=True,
        help='A Kaggle-layout CSV file (header review,sentiment; a glob is fine) or an '
             'aclImdb split folder holding pos/ and neg/ (e.g. aclImdb/train). Repeat for several.')
    parser.add_argument('--output', metavar='DIR', required=True,
                        help='Output folder; replaced only when the job succeeds.')
    add_reading_args(parser)


def add_reading_args(parser) -> None:
    """How reviews are read and validated: every job that reads reviews (add_input_args;
    evaluate, whose reviews are --data)."""
    parser.add_argument(
        '--max-review-chars', type=positive_int, default=schema.DEFAULT_MAX_REVIEW_CHARS,
        help='Reject reviews longer than this many characters (default %(default)s).')
    parser.add_argument(
        '--max-reject-fraction', type=fraction, default=schema.DEFAULT_MAX_REJECT_FRACTION,
        help='Fail (exit 3, after writing everything) when more than this share of the '
             'records is rejected (default %(default)s).')
    add_bool(parser, 'reshuffle-records', False,
             'spread the records themselves over all workers (a CSV file is read in chunks '
             'of 1,024 records spread over them already; on the DirectRunner this holds every '
             'record in memory)')


def add_movies_args(parser, use: str) -> None:
    """--movies FILE [--movies-for NAME]: the one side file of movies and ratings."""
    parser.add_argument(
        '--movies', metavar='PATH',
        help=f'A CSV giving reviews their movie and/or star rating: {use} Header "row,movie,'
             'rating" (the shared train_movies.csv: rows of the --movies-for CSV), or '
             '"id,movie,rating" with ids as the job gives them (e.g. train.csv:7); either of '
             'movie (or group) and rating may be left out.')
    parser.add_argument(
        '--movies-for', metavar='NAME',
        help='With a row,... movies file: the name of the CSV whose 1-based data rows it '
             'numbers, e.g. --movies ../shared/data/imdb/train_movies.csv --movies-for '
             'train.csv (its reviews have ids train.csv:<row>).')


def add_cleaning_args(parser) -> None:
    """The optional text-cleaning steps, shared by preprocess and explore."""
    add_bool(parser, 'keep-marks', True, "'!' and '?' become tokens of their own")
    add_bool(parser, 'remove-stopwords', False,
             'drop English stop words (negations such as not/no/never are kept)')
    add_bool(parser, 'lemmatize', False,
             "map words to lemmas with simplemma's English dictionary")


def add_preprocess_args(parser) -> None:
    """Flags of the preprocess job (besides the input and cleaning flags)."""
    parser.add_argument(
        '--eval-fraction', type=fraction, default=schema.DEFAULT_EVAL_FRACTION,
        help='Share of reviews in the eval split, chosen by a hash of the movie '
             '(--movies) or else of the normalized text (default %(default)s).')
    parser.add_argument(
        '--test-fraction', type=fraction, default=schema.DEFAULT_TEST_FRACTION,
        help='Share of reviews held out as a test split (by the same hash, next to the '
             'eval split; movie-disjoint with --movies), written only as raw reviews '
             '(test_reviews/test-*.csv) for scoring: never transformed, trained on, '
             'early-stopped on or fused on (default %(default)s: none).')
    add_movies_args(parser, 'all the reviews of a movie land in the same split (reviews '
                            'without a movie fall back to the hash of their text).')
    parser.add_argument(
        '--unlabeled', action='append', default=[], metavar='PATH',
        help='Reviews without labels (repeatable): a CSV with a "review" column such as '
             '../shared/data/imdb/unsup.csv, or an aclImdb folder such as aclImdb/train '
             '(its unsup/ reviews are read too). They are validated and transformed with '
             'the vocabulary of the train split, never labelled or split, and written as '
             'unlabeled-*.tfrecord.gz; the trainer learns its word vectors from them '
             'together with the train split. Labels they carry are ignored.')
    parser.add_argument(
        '--max-tokens', type=positive_int, default=schema.DEFAULT_MAX_TOKENS,
        help='Length of each token-id sequence; shorter reviews are padded with 0 '
             '(default %(default)s).')
    parser.add_argument(
        '--truncate', choices=[schema.TRUNCATE_KEEP_START, schema.TRUNCATE_KEEP_END],
        default=schema.TRUNCATE_KEEP_START,
        help='Which part of a long review to keep (default %(default)s).')
    parser.add_argument(
        '--vocab-size', type=positive_int, default=schema.DEFAULT_VOCAB_TOP_K,
        help='Keep at most this many most frequent tokens (default %(default)s).')
    parser.add_argument(
        '--min-frequency', type=positive_int, default=schema.DEFAULT_FREQUENCY_THRESHOLD,
        help='Drop tokens seen fewer times than this in the train split (default %(default)s).')
    parser.add_argument(
        '--oov-buckets', type=positive_int, default=schema.DEFAULT_NUM_OOV_BUCKETS,
        help='Hash buckets for out-of-vocabulary tokens (default %(default)s).')
    parser.add_argument(
        '--ngram-max', type=int, default=schema.DEFAULT_NGRAM_MAX,
        help='Also write each review\'s binary bag of 1..N-grams (ngram_ids) for the '
             'trainer\'s linear n-gram branch; 0 writes none (default %(default)s).')
    parser.add_argument(
        '--ngram-vocab-size', type=positive_int, default=schema.DEFAULT_NGRAM_VOCAB_TOP_K,
        help='Keep at most this many most frequent n-grams (default %(default)s).')
    parser.add_argument(
        '--ngram-min-frequency', type=positive_int,
        default=schema.DEFAULT_NGRAM_FREQUENCY_THRESHOLD,
        help='Drop n-grams seen fewer times than this in the train split '
             '(default %(default)s).')
    parser.add_argument(
        '--ignore-memory-estimate', action='store_true',
        help='On the DirectRunner the job estimates its memory from the input\'s size '
             '(about 1.3 GB at 25k reviews, 1.5 GB at 1M) and will not start when that is '
             'more than this machine has available; on Flink it will not start when one '
             'bundle would hold more than Beam\'s runner takes in (about 0.5 GB; raise '
             '--parallelism). This starts it anyway.')


def add_score_args(parser) -> None:
    """Flags of the score job (besides the input flags)."""
    parser.add_argument('--model', metavar='DIR', required=True,
                        help='Model folder written by `imdb-sentiment train`, or a folder '
                             'of such exports (versions): then the newest complete one.')
    add_batch_size_args(parser)
    parser.add_argument('--top-k', type=int, default=10,
                        help='Most confident false positives and negatives to report '
                             '(default %(default)s; 0 for none).')
    add_bool(parser, 'explain', True,
             'highlight the words that drove each reported error (occlusion)')
    add_bool(parser, 'include-text', True, 'write the review text into the predictions')
    add_bool(parser, 'vocab-coverage', True,
             "measure the share of the text's tokens the model's vocabulary knows")
    add_movies_args(parser, 'metrics and the report break the error rate down by star '
                            'rating (aclImdb reviews keep theirs in the file name; reviews '
                            'the file does not list have none).')
    parser.add_argument(
        '--date', nargs='?', const='today', metavar='YYYY-MM-DD',
        help='Nightly mode: write into OUTPUT/dt=YYYY-MM-DD/ (a bare --date means today, '
             'UTC), replacing that partition only when the run succeeds, and compare '
             'with the latest earlier night in drift.json. "{date}" in --input is replaced '
             'by it (e.g. --input \'/data/incoming/dt={date}/*.csv\'); a date whose input '
             'matches no file ends with exit 5 and writes nothing.')
    parser.add_argument(
        '--dates', metavar='FIRST..LAST',
        help='Backfill: score every date from FIRST to LAST (YYYY-MM-DD..YYYY-MM-DD) in order, '
             'each as --date would, into its own partition; dates already scored with the '
             'same model are skipped (unless --force), a failing date does not stop the '
             'others, and the run ends with a summary per date and the worst exit code.')
    add_bool(parser, 'force', False,
             'with --dates: score again the dates already complete with the same model')


def check_preprocess_args(args, parser) -> None:
    if args.eval_fraction + args.test_fraction >= 1:
        parser.error(f'--eval-fraction {args.eval_fraction} and --test-fraction '
                     f'{args.test_fraction} leave no review to train on (their sum must be '
                     f'below 1)')


def check_score_args(args, parser) -> None:
    if args.date is not None and args.dates:
        parser.error('give --date or --dates, not both')
    if args.force and not args.dates:
        parser.error('--force goes with --dates (a single --date always runs)')
    if any('{date}' in path for path in args.input) and args.date is None and not args.dates:
        parser.error('--input holds {date}: give the night with --date or --dates')
    check_batch_sizes(args, parser)


def add_batch_size_args(parser) -> None:
    parser.add_argument('--min-batch-size', type=positive_int,
                        help='Smallest batch RunInference sends the model (default: '
                             '--max-batch-size, so every batch but a bundle\'s last has that '
                             'size; below it RunInference adapts the size to what it times).')
    parser.add_argument('--max-batch-size', type=positive_int, default=256,
                        help='Largest batch RunInference sends the model (default %(default)s).')


def check_batch_sizes(args, parser) -> None:
    if args.min_batch_size is None:
        # Fixed batches: RunInference's adaptive sizing, from 16, settled on small batches
        # of reviews sorted by length, and a batch of 16 runs the LSTM's steps at a fraction
        # of the rate of one of 256 (score of train.csv: 66.5 s adaptive, 54.6 s fixed).
        args.min_batch_size = args.max_batch_size
    if args.min_batch_size > args.max_batch_size:
        parser.error(f'--min-batch-size {args.min_batch_size} is larger than '
                     f'--max-batch-size {args.max_batch_size}')


def add_explore_args(parser) -> None:
    """Flags of the explore job (besides the input and cleaning flags)."""
    parser.add_argument(
        '--top-words', type=positive_int, default=DEFAULT_TOP_WORDS,
        help='Most frequent words listed per label, and most discriminative words '
             'per side (default %(default)s).')


def cleaning_config(args) -> CleaningConfig:
    """The cleaning steps the parsed flags ask for."""
    return CleaningConfig(keep_marks=args.keep_marks, remove_stopwords=args.remove_stopwords,
                          lemmatize=args.lemmatize)


def add_evaluate_args(parser) -> None:
    """Flags of the model gate: two models, labelled reviews, and the thresholds."""
    from analysis.gate import Thresholds  # plain dataclass: no Beam, no TensorFlow
    defaults = Thresholds()
    parser.add_argument('--candidate', metavar='DIR', required=True,
                        help='The model to judge: an export, or a registry (its newest '
                             'version), or a registry version such as /models/4.')
    parser.add_argument('--baseline', metavar='DIR',
                        help='The model it must not fall behind: an export, or a registry '
                             '(its champion). Without one, the accuracy floor alone decides.')
    parser.add_argument('--data', action='append', metavar='PATH',
                        help='Labelled reviews both models score (CSV or aclImdb folder; '
                             'repeatable), e.g. the test split of preprocess, never reviews '
                             'the candidate was trained on. When the registry has a gate set, '
                             'the verdict rests on it and --data is judged beside it (a file '
                             'whose labels the champion contradicts is suspect: exit 3); '
                             'without one, --data is required.')
    parser.add_argument('--output', metavar='DIR', required=True,
                        help='Folder for the comparison, the verdict and the report (not '
                             'inside a model registry).')
    add_reading_args(parser)
    add_batch_size_args(parser)
    add_movies_args(parser, 'the comparison breaks accuracy down by star rating too.')
    for name, kind, text in (
            ('max-accuracy-drop', fraction, 'Largest accuracy loss against the baseline'),
            ('max-auc-drop', fraction, 'Largest ROC AUC loss against the baseline'),
            ('max-calibration-error', fraction, "Largest expected calibration error (ECE)"),
            ('min-slice-reviews', positive_int, 'Slices with this many reviews are compared'),
            ('max-slice-drop', fraction, 'Largest accuracy loss in any compared slice'),
            ('min-accuracy', fraction, 'The accuracy floor, with or without a baseline'),
            ('min-reviews', positive_int, 'No verdict on fewer labelled reviews'),
            ('max-data-shift', fraction,
             "Beside a gate set: how much lower the champion's accuracy on --data may be "
             'than on the gate set, beyond the samples\' 95%% margin, before --data is '
             'suspect')):
        parser.add_argument(f'--{name}', type=kind,
                            default=getattr(defaults, name.replace('-', '_')),
                            help=f'{text} (default %(default)s).')
