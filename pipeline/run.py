"""The whole product on one dataset: explore, preprocess, train, score, and an index page.

  imdb-sentiment run --input ../shared/data/imdb/train.csv --output runs/latest
  imdb-sentiment run --output runs/stanford        # downloads the official aclImdb archive

With no --input, the official Stanford archive is downloaded once into a cache
folder (resumable, size and SHA-256 verified), the model is trained on
aclImdb/train and the report also scores aclImdb/test. Every step writes its own
subfolder of --output (explore/, preprocess/, model/, score/test/, score/eval/,
score/<input>/) and DIR/index.html links every report.

The headline score is the test split's (--test-fraction of the reviews, held out by
preprocess): no choice was made on it. The eval split is scored too, but early
stopping watched it and the fusion was fitted on it, so its accuracy is optimistic.

With a row,movie,rating file beside the CSV (the shared data's train_movies.csv):

  imdb-sentiment run --input ../shared/data/imdb/train.csv --output runs/latest \
      --groups ../shared/data/imdb/train_movies.csv

splits by movie (no movie on two sides) and breaks every score report's errors down
by star rating. Flags that are not the run command's own
are Beam pipeline options, passed to the three Beam jobs (explore, preprocess, score).
"""

import argparse
import logging
import os
import re
import shlex
import time
from typing import Dict, List, Sequence, Tuple

from pipeline.flags import BEAM_OPTIONS_HELP
from transforms import features
from transforms.errors import InputError

_LOG = logging.getLogger(__name__)
INDEX_FILE = 'index.html'
EVAL_SET = features.EVAL_PREFIX
TEST_SET = features.TEST_PREFIX


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='imdb-sentiment run', description=__doc__, epilog=BEAM_OPTIONS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
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
        '--groups', metavar='PATH',
        help='A CSV giving each review of the --input CSV its movie (and star rating), such as '
             '../shared/data/imdb/train_movies.csv (header row,movie,rating; or id,group): '
             'preprocess splits by movie (--groups/--groups-for) and every score report '
             'breaks its errors down by rating (--ratings/--ratings-for).')
    parser.add_argument(
        '--test-fraction', type=float,
        help='Share of the --input reviews held out as the test split that the headline '
             f'score measures (default {features.DEFAULT_RUN_TEST_FRACTION}; 0 with the '
             'downloaded archive, whose aclImdb/test is scored instead); 0: none.')
    parser.add_argument('--epochs', type=int, help="The trainer's maximum number of epochs.")
    parser.add_argument('--train-flags', default='', metavar='"FLAGS"',
                        help="More flags for `imdb-sentiment train`, quoted as one string "
                             "(e.g. \"--lstm-units 128 --batch-size 64\").")
    parser.add_argument('--preprocess-flags', default='', metavar='"FLAGS"',
                        help='More flags for `imdb-sentiment preprocess`, quoted as one string.')
    parser.add_argument('--no-explore', dest='explore', action='store_false',
                        help='Skip the exploration report.')
    parser.add_argument('--cache-dir', metavar='DIR',
                        help='Where the downloaded archive is kept (default $IMDB_SENTIMENT_CACHE '
                             'or ~/.cache/imdb-sentiment).')
    parser.add_argument('--url', help=argparse.SUPPRESS)  # a mirror, for tests
    return parser


def set_name(path: str, taken: Sequence[str]) -> str:
    """score/<name> for a scored input: its file or folder name, made unique."""
    base = os.path.basename(path.rstrip('/')) or 'input'
    base = re.sub(r'\.(csv|txt)$', '', base)
    if base in ('train', 'test', 'unsup') and os.path.basename(os.path.dirname(path.rstrip('/'))):
        base = os.path.basename(os.path.dirname(path.rstrip('/'))) + '-' + base
    base = re.sub(r'[^A-Za-z0-9_.-]+', '_', base)
    name, n = base, 2
    while name in taken:
        name, n = f'{base}-{n}', n + 1
    return name


def _downloaded(args) -> None:
    from pipeline import download
    kwargs = {'url': args.url, 'size': None, 'sha256': None} if args.url else {}
    root = download.fetch_aclimdb(args.cache_dir, **kwargs)
    args.input = [os.path.join(root, 'train')]
    if os.path.isdir(os.path.join(root, 'train', features.ACLIMDB_UNLABELED_DIR)):
        args.unlabeled = [os.path.join(root, 'train')] + list(args.unlabeled)  # its unsup/
    args.score_input = [os.path.join(root, 'test')] + list(args.score_input)


def run(argv: Sequence[str] = None) -> int:
    """Runs every step in order; a failing step stops the run with its exit code."""
    from pipeline import cli
    parser = _parser()
    args, beam_args = parser.parse_known_args(list(argv or []))
    # Loaded once the arguments parsed, so that --help stays fast: Beam comes with them.
    from pipeline.options import _unknown_beam_args
    from transforms.output_guard import check_output
    from transforms.progress import Heartbeat
    unknown = _unknown_beam_args(beam_args)
    if unknown:
        parser.error(f'unrecognized arguments: {" ".join(unknown)}')
    check_output(args.output, 'run', protected=[*(args.input or []), *args.unlabeled,
                                                *args.score_input,
                                                *([args.groups] if args.groups else [])])
    if args.groups and not os.path.isfile(args.groups):
        raise InputError(f'--groups {args.groups}: no such file')
    if args.test_fraction is None:
        args.test_fraction = features.DEFAULT_RUN_TEST_FRACTION if args.input else 0.0
    if not 0 <= args.test_fraction < 1:
        parser.error(f'--test-fraction {args.test_fraction} is not in [0, 1)')
    if not args.input:
        _downloaded(args)
    out = args.output.rstrip('/')
    inputs = [flag for path in args.input for flag in ('--input', path)]
    steps: List[Dict] = []
    if args.explore:
        steps.append({'step': 'explore', 'argv': [
            'explore', *inputs, '--output', os.path.join(out, features.RUN_EXPLORE_DIR),
            *beam_args]})
    train_flags = shlex.split(args.train_flags)
    if args.epochs is not None:
        train_flags += ['--epochs', str(args.epochs)]
    preprocess_dir = os.path.join(out, features.RUN_PREPROCESS_DIR)
    model_dir = os.path.join(out, features.RUN_MODEL_DIR)
    groups, ratings = _side_file_flags(args, out)
    steps += [
        {'step': 'preprocess', 'argv': ['preprocess', *inputs, '--output', preprocess_dir,
                                        *(['--test-fraction', str(args.test_fraction)]
                                          if args.test_fraction else []), *groups,
                                        *[f for p in args.unlabeled for f in ('--unlabeled', p)],
                                        *shlex.split(args.preprocess_flags), *beam_args]},
        {'step': 'train', 'argv': ['train', '--data', preprocess_dir, '--output',
                                   model_dir, *train_flags]},
    ]
    # The test split first: it is the honest figure; then the eval split, for comparison.
    held_out = ([(TEST_SET, features.TEST_REVIEWS_DIR)] if args.test_fraction else []) + [
        (EVAL_SET, features.EVAL_REVIEWS_DIR)]
    names = []
    for name, folder in held_out:
        names.append(name)
        reviews = os.path.join(preprocess_dir, folder, f'{name}-*.csv')
        steps.append({'step': f'score {name}', 'argv': [
            'score', '--input', reviews, '--model', model_dir, *ratings,
            '--output', os.path.join(out, features.RUN_SCORE_DIR, name), *beam_args]})
    for path in args.score_input:
        names.append(set_name(path, names))
        steps.append({'step': f'score {names[-1]}',
                      'argv': ['score', '--input', path, '--model', model_dir, '--output',
                               os.path.join(out, features.RUN_SCORE_DIR, names[-1]), *beam_args]})

    started = time.time()
    # Marks the folder as this command's own from the start, so that a run that was
    # killed can be run again into the same folder.
    _write_manifest(out, steps, started, args, 'running')
    if ratings and ratings[1] == os.path.join(out, features.RUN_RATINGS_FILE):
        _write_ratings(args.groups, groups[3], ratings[1])
    for i, step in enumerate(steps, 1):
        _LOG.info('Step %d/%d: imdb-sentiment %s', i, len(steps), shlex.join(step['argv']))
        t0 = time.time()
        with Heartbeat(step['step']):
            code = cli.main(step['argv'])
        step.update(exit_code=code, wall_time_s=round(time.time() - t0, 1))
        if code != 0:
            _LOG.error('Step %s failed (exit %d); the later steps did not run', step['step'], code)
            _write_index(out, steps, started, args, failed=True)
            return code
    index = _write_index(out, steps, started, args, failed=False)
    _LOG.info('Done in %.0f s: open %s', time.time() - started, index)
    return 0


def _side_file_flags(args, out: str) -> Tuple[List[str], List[str]]:
    """preprocess's --groups/--groups-for and score's --ratings for ``run --groups``.

    A row,movie file numbers the rows of one CSV, the --input CSV. The score steps read
    the held-out splits, whose files have other names but keep the input's ids
    (``train.csv:<row>``): their ratings are written keyed by id into the run folder."""
    if not args.groups:
        return [], []
    from transforms.ratings import RATINGS_BY_ID, RATINGS_BY_ROW
    from transforms.split import GROUPS_BY_ROW, read_header
    header = tuple(c.strip() for c in read_header(args.groups))
    if header[:len(RATINGS_BY_ID)] == RATINGS_BY_ID:
        return ['--groups', args.groups], ['--ratings', args.groups]
    if header[:len(GROUPS_BY_ROW)] != GROUPS_BY_ROW:
        return ['--groups', args.groups], []  # id,group: split by it, no rating slice
    csvs = [p for p in args.input if p.endswith(('.csv', '.csv.gz'))]
    if len(csvs) != 1:
        raise InputError(f'--groups {args.groups}: a row,movie file numbers the rows of one '
                         f'CSV; give exactly one --input CSV (got {len(csvs)})')
    name = os.path.basename(csvs[0])
    groups = ['--groups', args.groups, '--groups-for', name]
    if header[:len(RATINGS_BY_ROW)] != RATINGS_BY_ROW:
        return groups, []
    return groups, ['--ratings', os.path.join(out, features.RUN_RATINGS_FILE)]


def _write_ratings(groups: str, rows_of: str, path: str) -> None:
    """The ratings of a row,movie,rating file as an id,rating file (ids ``<rows_of>:<row>``)."""
    import csv
    from transforms.ratings import RATINGS_BY_ID, RATINGS_BY_ROW
    with open(groups, encoding='utf-8-sig', newline='') as src, \
            open(path, 'w', encoding='utf-8', newline='') as dst:
        rows = csv.reader(src)
        next(rows, None)
        writer = csv.writer(dst)
        writer.writerow(RATINGS_BY_ID)
        for row in rows:
            if len(row) >= len(RATINGS_BY_ROW) and row[0].strip() and row[2].strip():
                writer.writerow([f'{rows_of}:{row[0].strip()}', row[2].strip()])


def _write_manifest(out: str, steps: List[Dict], started: float, args, status: str) -> Dict:
    from transforms import outputs
    manifest = {
        'job': 'run', 'status': status, 'created': outputs.utc_now(),
        'wall_time_s': round(time.time() - started, 1),
        'inputs': args.input, 'score_inputs': args.score_input,
        'steps': [{'step': s['step'], 'command': 'imdb-sentiment ' + shlex.join(s['argv']),
                   'exit_code': s.get('exit_code'), 'wall_time_s': s.get('wall_time_s')}
                  for s in steps],
        'versions': outputs.versions(),
    }
    os.makedirs(out, exist_ok=True)
    outputs.write_json(os.path.join(out, features.MANIFEST_FILE), manifest)
    return manifest


def _write_index(out: str, steps: List[Dict], started: float, args, failed: bool) -> str:
    """DIR/index.html and DIR/manifest.json: what ran, with which command, and the reports."""
    from analysis.run_index import render_index
    manifest = _write_manifest(out, steps, started, args, 'failed' if failed else 'ok')
    path = os.path.join(out, INDEX_FILE)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(render_index(out, manifest))
    return path
