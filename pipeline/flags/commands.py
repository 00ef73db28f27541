"""The flags of the commands that are not Beam jobs: train, predict, run and download."""

import argparse
import dataclasses

from trainer.config import ModelConfig
from pipeline.jobs.archive import CACHE_ENV, URL
from pipeline.runtime import object_store

DEFAULT_RUN_TEST_FRACTION = 0.1    # `run` holds out a test split to score


def add_train_args(parser) -> None:
    """--data, --output, and one flag per ModelConfig field (its help lives with the field)."""
    parser.add_argument('--data', required=True, metavar='DIR',
                        help='Output folder of `imdb-sentiment preprocess`.')
    parser.add_argument('--output', required=True, metavar='DIR', help='Model folder to write.')
    parser.add_argument('--registry', action='store_true',
                        help='--output is a model registry (created if missing): write its '
                             'next version, N/, which `imdb-sentiment models promote` can make '
                             'the champion.')
    for field in dataclasses.fields(ModelConfig):
        flag = '--' + field.name.replace('_', '-')
        text = field.metadata['help'].replace('%', '%%') + ' (default %(default)s)'
        if field.type in (bool, 'bool'):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction,
                                default=field.default, help=text)
        else:
            kind = {'int': int, 'float': float, 'str': str}.get(field.type, field.type)
            parser.add_argument(flag, type=kind, default=field.default, help=text)


def model_config(args) -> ModelConfig:
    """The ModelConfig the parsed train flags give; ValueError when a value is out of range."""
    return ModelConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(ModelConfig)})


def check_train_args(args, parser) -> None:
    if args.registry and '://' in args.output and object_store.is_bucket(args.output):
        parser.exit(2, f'{parser.prog}: error: --output {args.output} is a whole bucket; a '
                       f'model registry is a folder in one, such as '
                       f'{args.output.rstrip("/")}/models\n')
    try:
        model_config(args)
    except ValueError as e:
        parser.error(str(e))


def add_predict_args(parser) -> None:
    parser.add_argument('--model', required=True, metavar='DIR',
                        help='Model folder written by `imdb-sentiment train`, or a model '
                             'registry (its champion), local or on gs://.')
    parser.add_argument('texts', nargs='+', metavar='TEXT',
                        help='Review texts; "-" reads one review per line from standard input.')


def add_run_args(parser) -> None:
    parser.add_argument(
        '--input', action='append', metavar='PATH',
        help='Labelled reviews to learn from (Kaggle-layout CSV or an aclImdb split folder); '
             'repeat for several. Default: the official archive, downloaded (aclImdb/train).')
    parser.add_argument('--output', required=True, metavar='DIR',
                        help='Run folder: one subfolder per step, and index.html.')
    parser.add_argument(
        '--unlabeled', action='append', metavar='PATH', default=[],
        help='Reviews without labels for the word vectors (preprocess --unlabeled), e.g. '
             '../shared/data/imdb/unsup.csv; repeat for several. With the downloaded '
             "archive: aclImdb/train's unsup/ folder.")
    parser.add_argument(
        '--score-input', action='append', metavar='PATH', default=[],
        help='More data to score with the trained model (labelled or not), each into '
             'score/<name>/; repeat for several. With the downloaded archive: aclImdb/test.')
    parser.add_argument(
        '--movies', metavar='PATH',
        help='A CSV giving each review of the --input CSV its movie and star rating, such as '
             '../shared/data/imdb/train_movies.csv (header row,movie,rating; or id,movie,'
             'rating): preprocess splits by movie and every score report breaks its errors '
             'down by rating (both get --movies).')
    parser.add_argument(
        '--models', metavar='DIR',
        help='A model registry: the model is trained as its next version, evaluated against '
             "the champion on the registry's gate set and the test split (`imdb-sentiment "
             'evaluate`), and promoted only if blessed (the first promotion pins the test '
             'split as the gate set); a test split the champion contradicts is suspect (exit '
             '3). The index shows the verdict.')
    parser.add_argument(
        '--test-fraction', type=float,
        help='Share of the --input reviews held out as the test split that the headline '
             f'score measures (default {DEFAULT_RUN_TEST_FRACTION}; 0 with the '
             'downloaded archive, whose aclImdb/test is scored instead); 0: none.')
    parser.add_argument('--epochs', type=int, help="The trainer's maximum number of epochs.")
    parser.add_argument('--train-flags', default='', metavar='"FLAGS"',
                        help="More flags for `imdb-sentiment train`, quoted as one string "
                             "(e.g. \"--lstm-units 128 --batch-size 64\").")
    parser.add_argument('--preprocess-flags', default='', metavar='"FLAGS"',
                        help='More flags for `imdb-sentiment preprocess`, quoted as one string.')
    parser.add_argument('--evaluate-flags', default='', metavar='"FLAGS"',
                        help='With --models: more flags for the gate, `imdb-sentiment '
                             'evaluate`, quoted as one string (e.g. "--min-accuracy 0.85").')
    parser.add_argument('--no-explore', dest='explore', action='store_false',
                        help='Skip the exploration report.')
    parser.add_argument('--cache-dir', metavar='DIR',
                        help='Where the downloaded archive is kept (default $IMDB_SENTIMENT_CACHE '
                             'or ~/.cache/imdb-sentiment).')
    parser.add_argument('--url', help=argparse.SUPPRESS)  # a mirror, for tests


def check_run_args(args, parser) -> None:
    if args.test_fraction is not None and not 0 <= args.test_fraction < 1:
        parser.error(f'--test-fraction {args.test_fraction} is not in [0, 1)')


def add_download_args(parser) -> None:
    parser.add_argument('--cache-dir', metavar='DIR', default=None,
                        help=f'Folder for the archive and the unpacked data (default ${CACHE_ENV} '
                             f'or ~/.cache/imdb-sentiment).')
    parser.add_argument('--url', default=URL,
                        help='Where to fetch the archive; a mirror must serve the identical file '
                             '(default %(default)s).')
    parser.add_argument('--no-progress', action='store_true', help='Do not draw the progress bar.')


def add_models_args(parser) -> None:
    """list | promote | rollback | gate-set, each on a registry folder."""
    actions = parser.add_subparsers(dest='action', required=True, metavar='ACTION')
    listed = actions.add_parser('list', help='The versions, their verdicts, and the champion.')
    listed.add_argument('registry', metavar='DIR', help='The model registry.')
    promote = actions.add_parser(
        'promote', help='Make a version the champion (it must be blessed, or --force).')
    promote.add_argument('registry', metavar='DIR', help='The model registry.')
    promote.add_argument('version', type=int, metavar='VERSION', help='The version to promote.')
    promote.add_argument('--force', action='store_true',
                         help='Promote a version that was not blessed (say why in --reason).')
    promote.add_argument('--reason', default='', help='Why: kept in the champion record.')
    rollback = actions.add_parser('rollback', help='The champion before this one comes back.')
    rollback.add_argument('registry', metavar='DIR', help='The model registry.')
    rollback.add_argument('--reason', default='', help='Why: kept in the champion record.')
    pinned = actions.add_parser(
        'gate-set', help='Pin the trusted labelled reviews every candidate is judged on.')
    pinned.add_argument('registry', metavar='DIR', help='The model registry.')
    pinned.add_argument('--data', action='append', metavar='PATH', required=True,
                        help='Labelled reviews (CSV or aclImdb folder; repeatable): copied '
                             'into DIR/gate_set/ with their SHA-256.')
    pinned.add_argument('--reason', required=True, help='Why: kept in its manifest.')
    pinned.add_argument('--replace', action='store_true',
                        help='Replace the gate set there is (the old one is kept beside it).')


def check_models_args(args, parser) -> None:
    if args.action == 'promote' and args.force and not args.reason.strip():
        parser.error('promote --force needs a --reason: the champion record keeps it')
    if args.action == 'gate-set' and not args.reason.strip():
        parser.error('gate-set needs a --reason: its manifest keeps it')
