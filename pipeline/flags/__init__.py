"""Every command's flags, and the one place a command line is parsed.

``job_args, beam_args = flags.parse(command, argv)``: the command's own flags with argparse,
as Beam's ``wordcount.py`` does (``parse_known_args``); what is left must be Beam pipeline
options for a Beam job (``PipelineOptions(beam_args)``) and nothing for the other commands.
A flag that is neither is a usage error (exit 2), so a typo never falls back to a default
and another job's flag is never silently ignored. Plain argparse, no Beam, no TensorFlow:
``--help`` answers at once, before a job module is imported.
"""

import argparse
import ast
import dataclasses
import os
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from pipeline.flags import beam_jobs, commands
from pipeline.jobs.archive import ARCHIVE_NAME

BEAM_OPTIONS_HELP = """\
Any Beam pipeline option may follow, for example:
  --runner=DirectRunner (default) | DataflowRunner | FlinkRunner
  --direct_num_workers=1 (one process; by default one per core past 24 MB of input)
  --project=P --region=R --temp_location=gs://B/tmp --setup_file=./setup.py (Dataflow)
  --flink_master=HOST:PORT --environment_type=LOOPBACK|DOCKER|EXTERNAL (Flink)
"""

_JOBS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'jobs')


@dataclasses.dataclass(frozen=True)
class Command:
    """One ``imdb-sentiment`` command: what ``--help`` shows and how its flags are checked."""
    summary: str
    adders: Tuple[Callable, ...]
    beam: bool = False            # the rest of the command line is Beam pipeline options
    check: Optional[Callable] = None   # (args, parser) -> None; parser.error on bad values
    description: Optional[Callable[[], str]] = None   # default: the job module's docstring
    after: Optional[str] = None   # --help's last paragraph (the Beam jobs: Beam's options)
    wrap: bool = False            # rewrap the description (one written as a single paragraph)

    @property
    def epilog(self) -> Optional[str]:
        return BEAM_OPTIONS_HELP if self.beam else self.after


def _download_description() -> str:
    return (f'Download the Stanford Large Movie Review Dataset ({ARCHIVE_NAME}, 84 MB) once, '
            'check its SHA-256, unpack it, and print the path of the aclImdb folder. An '
            'interrupted download resumes; a second run does nothing.')


COMMANDS: Dict[str, Command] = {
    'preprocess': Command(
        'Validate and clean reviews; build the vocabulary with tf.Transform; write TFRecords.',
        (beam_jobs.add_input_args, beam_jobs.add_preprocess_args, beam_jobs.add_cleaning_args),
        beam=True, check=beam_jobs.check_preprocess_args),
    'train': Command(
        'Train the LSTM on preprocess output; export a SavedModel that takes raw text.',
        (commands.add_train_args,), check=commands.check_train_args),
    'predict': Command('Print label and probability for a few review texts.',
                       (commands.add_predict_args,)),
    'score': Command(
        'Score reviews with RunInference; write predictions, metrics and an error report.',
        (beam_jobs.add_input_args, beam_jobs.add_score_args), beam=True,
        check=beam_jobs.check_score_args),
    'evaluate': Command(
        'The model gate: score a candidate and a baseline on the same reviews; bless or not.',
        (beam_jobs.add_evaluate_args,), beam=True, check=beam_jobs.check_batch_sizes),
    'models': Command('List a model registry, promote a version, or roll back the champion.',
                      (commands.add_models_args,), check=commands.check_models_args),
    'explore': Command(
        'Profile a dataset (lengths, word frequencies, coverage) into an HTML report.',
        (beam_jobs.add_input_args, beam_jobs.add_cleaning_args, beam_jobs.add_explore_args),
        beam=True),
    'run': Command(
        'All of it: explore, preprocess, train and score one dataset; index.html links the '
        'reports.', (commands.add_run_args,), beam=True, check=commands.check_run_args),
    'download': Command('Fetch and unpack the official aclImdb archive into the cache folder.',
                        (commands.add_download_args,), description=_download_description,
                        after='Then: imdb-sentiment preprocess --input PATH/train --output '
                              'out/preprocess', wrap=True),
}

def _docstring(command: str) -> str:
    """The job module's docstring, read from its source: the module (and Beam) stays unloaded."""
    with open(os.path.join(_JOBS_DIR, f'{command}.py'), encoding='utf-8') as f:
        return ast.get_docstring(ast.parse(f.read()), clean=False) or ''


def parser(command: str) -> argparse.ArgumentParser:
    """The argparse parser of ``imdb-sentiment COMMAND``."""
    spec = COMMANDS[command]
    found = argparse.ArgumentParser(
        prog=f'imdb-sentiment {command}', allow_abbrev=False,
        description=spec.description() if spec.description else _docstring(command),
        epilog=spec.epilog, formatter_class=(argparse.HelpFormatter if spec.wrap
                                             else argparse.RawDescriptionHelpFormatter))
    for add in spec.adders:
        add(found)
    return found


def parse(command: str, argv: Sequence[str]) -> Tuple[argparse.Namespace, List[str]]:
    """(the command's flags, the Beam pipeline options that follow them).

    Exits 2 with argparse's one-line message for a bad or unknown flag, and 0 for --help."""
    spec = COMMANDS[command]
    found = parser(command)
    args, rest = found.parse_known_args(list(argv))
    refused = _unsupported_storage(args, rest, argv)
    if refused:
        found.exit(2, f'{found.prog}: error: {refused}\n')   # one line, before any check
    if spec.check:
        spec.check(args, found)
    unknown = unknown_beam_args(rest) if spec.beam else rest
    if unknown:
        found.error(f'unrecognized arguments: {" ".join(unknown)}')
    if spec.beam and rest:
        from pipeline.flags import engine_options
        wrong = engine_options.problem(rest)
        if wrong:
            found.error(wrong)
    return args, rest


# Flags that hold a user's text, never a path.
_TEXT_FLAGS = ('texts', 'reason')


def _unsupported_storage(args: argparse.Namespace, beam_args: Sequence[str],
                         argv: Sequence[str]) -> Optional[str]:
    """'FLAG VALUE: why', for the first path on storage that no job can use (s3://), in the
    command's flags (also inside --train-flags and the like) or its Beam options."""
    from pipeline.runtime.object_store import unsupported  # plain Python: no Beam loaded
    for dest, value in vars(args).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for text in values:
            why = dest not in _TEXT_FLAGS and isinstance(text, str) and unsupported(text)
            if why:
                flag = '--' + dest.replace('_', '-')
                named = any(a == flag or a.startswith(flag + '=') for a in argv)
                return f'{flag if named else dest.upper()} {text}: {why}'
    for i, text in enumerate(beam_args):
        why = unsupported(text)
        if why:
            flag = '' if '=' in text or i == 0 else beam_args[i - 1] + ' '
            return f'{flag}{text}: {why}'
    return None


def unknown_beam_args(args: Sequence[str]) -> List[str]:
    """The arguments that no Beam ``PipelineOptions`` class knows (loads Beam's options)."""
    if not args:
        return []
    from apache_beam.options.pipeline_options import PipelineOptions
    from pipeline.flags import engine_options  # noqa: F401 - registers the job server's options
    known = argparse.ArgumentParser(add_help=False, allow_abbrev=False,
                                    conflict_handler='resolve')
    known.add_value_provider_argument = known.add_argument  # what Beam's parser adds
    for cls in PipelineOptions.__subclasses__():
        cls._add_argparse_args(known)
    _, unknown = known.parse_known_args(list(args))
    return unknown


def argv(**options) -> List[str]:
    """Flags from keyword values, for composing a command (``run``'s steps): a list repeats
    its flag, True is ``--flag``, False ``--no-flag``, None leaves the flag out."""
    out: List[str] = []
    for name, value in options.items():
        flag = '--' + name.replace('_', '-')
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if item is None:
                continue
            if item is True or item is False:
                out.append(flag if item else '--no-' + flag[2:])
            else:
                out += [flag, str(item)]
    return out
