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
      --movies ../shared/data/imdb/train_movies.csv

splits by movie (no movie on two sides) and breaks every score report's errors down
by star rating. Flags that are not the run command's own are Beam pipeline options,
passed to the three Beam jobs (explore, preprocess, score).
"""

import argparse
import dataclasses
import logging
import os
import re
import shlex
import time
from typing import Dict, List, Optional, Sequence, Tuple

from apache_beam.io.filesystems import FileSystems

from analysis.run_index import render_index
from pipeline import cli, flags, gate_set, registry
from pipeline.flags.commands import DEFAULT_RUN_TEST_FRACTION
from pipeline.jobs import download
from pipeline.jobs.run_folder import (EVALUATE_DIR, EXPLORE_DIR, INDEX_FILE, MODEL_DIR,
                                      PREPROCESS_DIR, SCORE_DIR, summary)
from pipeline.runtime.console import Heartbeat
from pipeline.runtime.guard import check_output
from transforms import jsonio, schema
from transforms.beam import movies
from transforms.beam.inputs import CSV_SUFFIXES
from transforms.errors import EXIT_NOT_BLESSED, InputError, OutputError
from transforms.local_copy import is_remote

_LOG = logging.getLogger(__name__)

NAME = 'run'
GATE_PASSED = 'gate passed'
EVAL_SET = schema.EVAL_PREFIX
TEST_SET = schema.TEST_PREFIX


@dataclasses.dataclass
class Step:
    """One command of the run: composed from flags, parsed (and so checked) before any runs."""
    name: str
    command: str
    argv: List[str]
    job_args: Optional[argparse.Namespace] = None
    beam_args: List[str] = dataclasses.field(default_factory=list)
    exit_code: Optional[int] = None
    wall_time_s: Optional[float] = None
    needs: Optional[str] = None   # GATE_PASSED: runs only when the model gate blessed
    expected: Optional[str] = None  # train into a registry: the version it will likely be

    def parse(self) -> None:
        self.job_args, self.beam_args = flags.parse(self.command, self.argv)

    @property
    def command_line(self) -> str:
        return 'imdb-sentiment ' + shlex.join([self.command, *self.argv])


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
    kwargs = {'url': args.url, 'size': None, 'sha256': None} if args.url else {}
    root = download.fetch_aclimdb(args.cache_dir, **kwargs)
    args.input = [os.path.join(root, 'train')]
    if os.path.isdir(os.path.join(root, 'train', schema.ACLIMDB_UNLABELED_DIR)):
        args.unlabeled = [os.path.join(root, 'train')] + list(args.unlabeled)  # its unsup/
    args.score_input = [os.path.join(root, 'test')] + list(args.score_input)
    args.held_out = os.path.join(root, 'test')   # what the gate may judge --models' model on


def _movies_flags(args) -> Tuple[Dict, Dict]:
    """The --movies flags of preprocess (to split by movie) and of the score steps (to slice
    by rating) for ``run --movies``, from the file's header.

    A row,... file numbers the rows of one CSV, the --input CSV. The score steps read the
    held-out splits, whose files have other names but keep the input's ids
    (``train.csv:<row>``), so they get the same flags."""
    if not args.movies:
        return {}, {}
    try:
        header = movies.read_header(args.movies)
        rows_of = None
        if header and header[0].strip().lower() == movies.ROW_KEY:
            csvs = [p for p in args.input if p.endswith(CSV_SUFFIXES)]
            if len(csvs) != 1:
                raise movies.MoviesFormatError(
                    f'a row,... file numbers the rows of one CSV; give exactly one --input '
                    f'CSV (got {len(csvs)})')
            rows_of = os.path.basename(csvs[0])
        layout = movies.layout(header, rows_of)
    except (OSError, UnicodeDecodeError, movies.MoviesFormatError) as e:
        raise InputError(f'--movies {args.movies}: {e}') from None
    given = {'movies': args.movies, 'movies_for': rows_of}
    return (given if layout.movie is not None else {}), (given if layout.rating is not None
                                                         else {})


def _steps(args, beam_args: List[str]) -> List[Step]:
    """explore, preprocess, train, then score: the test split, the eval split, the inputs."""
    out = args.output.rstrip('/')
    preprocess_dir, model_dir = os.path.join(out, PREPROCESS_DIR), os.path.join(out, MODEL_DIR)
    split_by, rate_by = _movies_flags(args)
    steps = []
    if args.explore:
        steps.append(Step('explore', 'explore', flags.argv(
            input=args.input, output=os.path.join(out, EXPLORE_DIR)) + beam_args))
    steps.append(Step('preprocess', 'preprocess', flags.argv(
        input=args.input, output=preprocess_dir, test_fraction=args.test_fraction or None,
        unlabeled=args.unlabeled, **split_by) + shlex.split(args.preprocess_flags) + beam_args))
    train_to = flags.argv(data=preprocess_dir, output=model_dir)
    if args.models:  # a new version of the registry: its number is known once it is published
        model_dir = registry.version_path(args.models, registry.next_version(args.models))
        train_to = flags.argv(data=preprocess_dir, output=args.models, registry=True)
    steps.append(Step('train', 'train', train_to + shlex.split(args.train_flags) +
                      flags.argv(epochs=args.epochs), expected=args.models and model_dir))
    # The test split first: it is the honest figure; then the eval split, for comparison.
    held_out = ([(TEST_SET, schema.TEST_REVIEWS_DIR)] if args.test_fraction else []) + [
        (EVAL_SET, schema.EVAL_REVIEWS_DIR)]
    if args.models:
        tested = (os.path.join(preprocess_dir, schema.TEST_REVIEWS_DIR, f'{TEST_SET}-*.csv')
                  if args.test_fraction else getattr(args, 'held_out', None))
        steps += _gate_steps(args, model_dir, tested, rate_by if args.test_fraction else {},
                             beam_args)
    names = []
    for name, folder in held_out:
        names.append(name)
        steps.append(Step(f'score {name}', 'score', flags.argv(
            input=os.path.join(preprocess_dir, folder, f'{name}-*.csv'), model=model_dir,
            **rate_by, output=os.path.join(out, SCORE_DIR, name)) + beam_args))
    for path in args.score_input:
        names.append(set_name(path, names))
        steps.append(Step(f'score {names[-1]}', 'score', flags.argv(
            input=path, model=model_dir, output=os.path.join(out, SCORE_DIR, names[-1])) +
            beam_args))
    return steps


def _gate_steps(args, model_dir: str, tested: Optional[str], rate_by: Dict,
                beam_args: List[str]) -> List[Step]:
    """evaluate the new version against the champion, then promote it: a step that runs only
    when the gate blessed it.

    The verdict rests on the registry's gate set when it has one, the held-out reviews
    (``tested``: the test split, or the downloaded archive's aclImdb/test) judged beside it,
    so that a file whose labels the champion contradicts is suspect (exit 3); before the
    first promotion, on ``tested`` alone, which the promotion then pins as the gate set. Never
    on the eval split, which early stopping watched and the fusion may be refitted on."""
    pinned = gate_set.manifest(args.models)
    if not tested and not pinned:
        raise InputError(f'--models {args.models}: nothing to judge the new model on: no test '
                         f'split (--test-fraction 0) and no gate set in the registry; give '
                         f'--test-fraction, or pin one with `imdb-sentiment models gate-set '
                         f'{args.models} --data FILE --reason WHY`')
    if not tested:
        _LOG.info('The gate judges the new model on the gate set of %s alone: with '
                  '--test-fraction 0 nothing of --input is held out from training', args.models)
    champion = registry.champion(args.models) if registry.is_registry(args.models) else None
    evaluate = Step('evaluate', 'evaluate', flags.argv(
        candidate=model_dir, baseline=args.models if champion else None, data=tested,
        **rate_by, output=os.path.join(args.output.rstrip('/'), EVALUATE_DIR)) +
        shlex.split(args.evaluate_flags) + beam_args)
    promote = Step('promote', 'models', ['promote', args.models,
                                         os.path.basename(model_dir), '--reason',
                                         f'blessed by imdb-sentiment run into {args.output}'],
                   needs=GATE_PASSED)
    return [evaluate, promote]


def _use_version(later: List[Step], expected: str, published: str) -> None:
    """The steps after train use the version it published: until then their commands name
    ``expected``, the number the registry's next version was likely to get."""
    for step in later:
        argv = [published if a == expected else a for a in step.argv]
        if step.command == 'models':  # promote REGISTRY VERSION
            argv[2] = os.path.basename(published)
        if argv != step.argv:
            step.argv = argv
            step.parse()


def main(job_args: argparse.Namespace, beam_args: List[str]) -> int:
    """Runs every step in order; a failing step stops the run with its exit code. With
    --models, a candidate the gate did not bless is not promoted: the other steps run, and
    the run ends with exit 4."""
    args = job_args
    if is_remote(args.output):
        raise OutputError(f'--output {args.output}: run writes its run folder (reports, '
                          'index.html) on a local disk; on object storage run the commands '
                          'one by one (README: Data in object storage)')
    check_output(args.output, NAME, protected=[*(args.input or []), *args.unlabeled,
                                               *args.score_input, args.movies, args.models],
                 replaces=False)  # it writes its steps' outputs into the folder
    if args.models:
        registry.check_writable(args.models)
    if args.movies and not (FileSystems.exists(args.movies) if is_remote(args.movies)
                            else os.path.isfile(args.movies)):
        raise InputError(f'--movies {args.movies}: no such file')
    if args.test_fraction is None:
        args.test_fraction = DEFAULT_RUN_TEST_FRACTION if args.input else 0.0
    if not args.input:
        _downloaded(args)
    steps = _steps(args, beam_args)
    for step in steps:  # every step's flags are checked before the first one runs
        step.parse()
    out = args.output.rstrip('/')
    started = time.monotonic()
    # Marks the folder as this command's own from the start, so that a run that was
    # killed can be run again into the same folder.
    _write_manifest(out, steps, started, args, 'running')
    refused = False
    for i, step in enumerate(steps, 1):
        if step.needs == GATE_PASSED and refused:
            _LOG.warning('Step %s skipped: the gate did not bless %s; the champion stays',
                         step.name, step.argv[2])
            continue
        _LOG.info('Step %d/%d: %s', i, len(steps), step.command_line)
        t0 = time.monotonic()
        with Heartbeat(step.name):
            step.exit_code = cli.invoke(step.command, step.job_args, step.beam_args)
        step.wall_time_s = round(time.monotonic() - t0, 1)
        if step.command == 'train' and args.models and step.exit_code == 0:
            _use_version(steps[i:], step.expected, step.job_args.published)
        if step.exit_code == EXIT_NOT_BLESSED and step.command == 'evaluate':
            refused = True
            continue
        if step.exit_code != 0:
            _LOG.error('Step %s failed (exit %d); the later steps did not run', step.name,
                       step.exit_code)
            _write_index(out, steps, started, args, failed=True)
            return step.exit_code
    index = _write_index(out, steps, started, args, failed=False)
    _LOG.info('Done in %.0f s: open %s', time.monotonic() - started, index)
    return EXIT_NOT_BLESSED if refused else 0


def _write_manifest(out: str, steps: List[Step], started: float, args, status: str) -> Dict:
    manifest = {
        'job': NAME, 'status': status, 'created': jsonio.utc_now(),
        'wall_time_s': round(time.monotonic() - started, 1),
        'inputs': args.input, 'score_inputs': args.score_input,
        'steps': [{'step': s.name, 'command': s.command_line, 'exit_code': s.exit_code,
                   'wall_time_s': s.wall_time_s} for s in steps],
        'versions': jsonio.versions(),
    }
    os.makedirs(out, exist_ok=True)
    jsonio.write_json(os.path.join(out, schema.MANIFEST_FILE), manifest)
    return manifest


def _write_index(out: str, steps: List[Step], started: float, args, failed: bool) -> str:
    """DIR/index.html and DIR/manifest.json: what ran, with which command, and the reports."""
    manifest = _write_manifest(out, steps, started, args, 'failed' if failed else 'ok')
    path = os.path.join(out, INDEX_FILE)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(render_index(manifest, summary(out)))
    return path


def run(argv: Sequence[str] = None) -> int:
    """``imdb-sentiment run ARGV`` in this process."""
    return main(*flags.parse(NAME, argv or []))
