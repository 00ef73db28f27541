"""What ``--runner`` names, read the way Beam reads it, and the options only some runners honour.

Beam accepts a runner by its class name in any case, with or without the ``Runner`` suffix, or
by a module path (``direct``, ``DirectRunner``,
``apache_beam.runners.direct.direct_runner.DirectRunner``); no ``--runner`` is the DirectRunner.
The package of ``--setup_file``, which the cluster runners build and stage for their workers,
is built from a copy of the project (``setup_file_copied``), never in the checkout.
"""

import contextlib
import os
import re
import shutil
import socket
import tempfile
from typing import Iterator, Optional

from apache_beam.options.pipeline_options import (PipelineOptions, PortableOptions,
                                                  SetupOptions, StandardOptions, TestOptions)

from transforms.errors import EngineFailed, UserError

_IN_PROCESS = ('directrunner', 'bundlebaseddirectrunner', 'switchingdirectrunner',
               'fnapirunner')
_DRY_RUN = ('dataflowrunner',)   # the runners that build a job without running it


def runner_key(runner: Optional[str]) -> str:
    """``runner`` as one lowercase name ending in ``runner`` (None: the DirectRunner)."""
    if runner is None:
        return 'directrunner'
    name = runner.rsplit('.', 1)[-1].lower()
    return name if name.endswith('runner') else name + 'runner'


def is_direct(runner: Optional[str]) -> bool:
    """Whether ``runner`` runs the job in this process."""
    return runner_key(runner) in _IN_PROCESS


def check_dry_run(options: PipelineOptions) -> None:
    """Refuses ``--dry_run`` on a runner that would ignore it and run the whole job (every runner
    but Dataflow's), before any work."""
    if not options.view_as(TestOptions).dry_run:
        return
    runner = options.view_as(StandardOptions).runner
    if runner_key(runner) not in _DRY_RUN:
        raise UserError(
            f'--dry_run is honoured only by the DataflowRunner; the {runner or "DirectRunner"} '
            'would run the whole job. Drop --dry_run, or add --runner=DataflowRunner to build '
            'the job without running it')


def check_job_endpoint(options: PipelineOptions, timeout: float = 5.0) -> None:
    """Refuses a ``--job_endpoint`` where nothing listens, before any work: Beam would wait for
    it as long as ``--job_server_timeout`` (5 minutes) and then fail with a traceback."""
    endpoint = options.view_as(PortableOptions).job_endpoint
    if not endpoint or endpoint == 'embed':
        return
    host, _, port = endpoint.rpartition(':')
    host = host.strip('[]') or 'localhost'
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return
    except ValueError:
        problem = 'it is not HOST:PORT'
    except OSError as e:
        problem = f'no job server answers there ({e.strerror or e})'
    raise UserError(
        f'--job_endpoint={endpoint}: {problem}; start the cluster first (`make flink-up` or '
        '`make spark-up` prints the flags to use) or correct the address')


# How Beam's portable runner (Flink, Spark) reports a job the engine failed.
_ENGINE_FAILURE = re.compile(r'^Pipeline (\S+) failed in state (\w+): ?(.*)', re.DOTALL)
# What an engine says of a worker that died, and what it means. Spark's driver often knows
# only the executor's exit code (52: Spark's exit for an OutOfMemoryError, when it was thrown
# outside a task or the executor died before saying so), or only that the master failed the
# application (spark.deploy.maxExecutorRetries: an executor of it exited with an error).
# Flink's JobManager knows only that the TaskManager went away, which
# cluster.uncaught-exception-handling FAIL makes it do at an error no task catches.
_WORKER_DEATHS = (
    ('exited with code 52', 'exit code 52: the executor ran out of memory (OutOfMemoryError); '
                            'give it more memory or the job more partitions'),
    ('Master removed our application', 'an executor of the job died: its stderr, in the Spark '
                                       'worker\'s work dir, says why; exit code 52 is an '
                                       'OutOfMemoryError'),
    ('The TaskExecutor is shutting down', 'a TaskManager stopped, as it does at an error no task '
                                          'catches, such as an OutOfMemoryError in Beam\'s data '
                                          'plane: its log says which'),
)


def engine_failure(error: BaseException, options: PipelineOptions) -> Optional[EngineFailed]:
    """The one-line EngineFailed for a job a cluster engine failed, or None for any other
    error (a bug here, an error of the DirectRunner: those keep their traceback)."""
    runner = options.view_as(StandardOptions).runner
    if is_direct(runner) or not isinstance(error, RuntimeError):
        return None
    found = _ENGINE_FAILURE.match(str(error))
    if not found:
        return None
    job, state, reason = found.groups()
    lines = [line.strip() for line in reason.splitlines() if line.strip()]
    causes = [line for line in lines if line.startswith('Caused by:')]
    said = (causes[-1][len('Caused by:'):].strip() if causes else lines[0] if lines
            else 'no reason given')
    if len(said) > 300:
        said = said[:297] + '...'
    meaning = next((what for words, what in _WORKER_DEATHS if words in reason), None)
    if meaning:
        said += f' ({meaning})'
    return EngineFailed(f'the {runner} job {job} ended {state}: {said}; nothing was '
                        'published (the engine\'s own log and web UI hold the whole error)')


_NOT_COPIED = shutil.ignore_patterns('__pycache__', '*.pyc')   # caches, never in an sdist


@contextlib.contextmanager
def setup_file_copied(options: PipelineOptions) -> Iterator[None]:
    """While inside, ``--setup_file`` names the same file in a temporary copy of its project.

    Beam's stager builds the package the workers install (Dataflow's ``workflow.tar.gz``, and
    the portable runners' too) by running ``setup.py sdist`` where the file lies, which writes
    ``*.egg-info`` there: into the user's checkout, or into the egg-info of an editable
    install. Built in the copy, the checkout is left as it was. The copy holds the project's
    top-level files and its Python packages (the folders with an ``__init__.py``, all that
    ``setuptools.find_packages()`` can find), not its outputs, virtual environments or caches.
    A missing file is left to Beam, which names the flag. Make the pipeline inside: a
    ``beam.Pipeline`` keeps a copy of the options it was made with.
    """
    setup = options.view_as(SetupOptions)
    original = setup.setup_file
    if not original or not os.path.isfile(original):
        yield
        return
    project = os.path.dirname(os.path.abspath(original))
    with tempfile.TemporaryDirectory(prefix='imdb-sentiment-sdist-') as scratch:
        copy = os.path.join(scratch, os.path.basename(project) or 'project')
        os.mkdir(copy)
        for entry in os.scandir(project):
            if entry.name.startswith('.'):
                continue
            if entry.is_file():
                shutil.copy2(entry.path, copy)
            elif os.path.isfile(os.path.join(entry.path, '__init__.py')):
                shutil.copytree(entry.path, os.path.join(copy, entry.name), ignore=_NOT_COPIED)
        setup.setup_file = os.path.join(copy, os.path.basename(original))
        try:
            yield
        finally:
            setup.setup_file = original
