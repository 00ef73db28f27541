"""What ``--runner`` names, read the way Beam reads it, and the options only some runners honour.

Beam accepts a runner by its class name in any case, with or without the ``Runner`` suffix, or
by a module path (``direct``, ``DirectRunner``,
``apache_beam.runners.direct.direct_runner.DirectRunner``); no ``--runner`` is the DirectRunner.
"""

import re
import socket
from typing import Optional

from apache_beam.options.pipeline_options import (PipelineOptions, PortableOptions,
                                                  StandardOptions, TestOptions)

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
    return EngineFailed(f'the {runner} job {job} ended {state}: {said}; nothing was '
                        'published (the engine\'s own log and web UI hold the whole error)')
