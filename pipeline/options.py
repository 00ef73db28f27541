"""Pipeline options of each job, and strict parsing of a job's command line.

Each job has one ``PipelineOptions`` subclass holding its own flags (defined as plain
argparse in ``pipeline.flags``). Runner, project, region and temp locations come only
from the command line, as Beam's standard options, so the same code runs on
DirectRunner, Dataflow and Flink.
"""

import argparse
from typing import List, Sequence, Tuple, Type

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import flags
from pipeline.flags import BEAM_OPTIONS_HELP, cleaning_config  # noqa: F401 - the jobs' API


class InputOptions(PipelineOptions):
    """Inputs, output and validation: shared by every job that reads reviews.

    Beam parses every options class with one parser, so a flag lives in exactly
    one class; a job's own class holds only the flags no other job has.
    """

    # Checked by parse_job_args: Beam parses every options class for every
    # pipeline, so argparse's own required=True would break the other jobs.
    REQUIRED = ('input', 'output')

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        flags.add_input_args(parser)


class CleaningOptions(PipelineOptions):
    """The optional text-cleaning steps, shared by preprocess and explore."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        flags.add_cleaning_args(parser)


class PreprocessOptions(PipelineOptions):
    """Flags of the preprocess job (besides InputOptions and CleaningOptions)."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        flags.add_preprocess_args(parser)


class ScoreOptions(PipelineOptions):
    """Flags of the score job (besides InputOptions)."""

    REQUIRED = ('model',)

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        flags.add_score_args(parser)


class ExploreOptions(PipelineOptions):
    """Flags of the explore job (besides InputOptions and CleaningOptions)."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        flags.add_explore_args(parser)


def parse_job_args(prog: str, description: str, option_classes: Sequence[Type[PipelineOptions]],
                   argv: Sequence[str]) -> Tuple[argparse.Namespace, List[str]]:
    """Parses the flags of the job's option classes; the rest must be Beam pipeline options.

    Returns (job flags, Beam args). An unknown flag is a usage error (exit 2)
    rather than Beam's warning, so a typo never silently falls back to a default.
    """
    parser = flags.job_parser(prog, description,
                              [cls._add_argparse_args for cls in option_classes])
    job_args, rest = parser.parse_known_args(list(argv))
    for cls in option_classes:
        for name in getattr(cls, 'REQUIRED', ()):
            if getattr(job_args, name) is None:
                parser.error(f'the following arguments are required: --{name}')
    unknown = _unknown_beam_args(rest)
    if unknown:
        parser.error(f'unrecognized arguments: {" ".join(unknown)}')
    return job_args, rest


def _unknown_beam_args(args: List[str]) -> List[str]:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False,
                                     conflict_handler='resolve')
    parser.add_value_provider_argument = parser.add_argument  # what Beam's parser adds
    for cls in PipelineOptions.__subclasses__():
        cls._add_argparse_args(parser)
    _, unknown = parser.parse_known_args(args)
    return unknown
