"""Which Beam URNs do the jobs submit that the clusters' older job servers do not know?

  python -m benchmarks version_skew --model DIR [--input CSV] [--job explore ...] [--no-pin]

The version skew between this project's Python SDK (Beam 2.77) and the local clusters' job
servers (Beam 2.62), measured without a cluster:

- Which Beam model URNs each job submits (explore, preprocess, score: the pipeline proto as
  Beam's portable runner would send it to a Flink or Spark job server, captured just before
  submission), by what reads them (``pipeline/cluster/local/urns.py``), and which of them the
  model packed in each job-server jar does not name; also every URN the SDK's model names and
  the jars' do not.
- What pinning the SDK to the job servers' version would change: pip's resolver, in a dry run
  (the package index is asked, nothing is installed), for ``apache-beam[gcp]==2.62.0`` with
  this project's TensorFlow and tf.Transform, and then with the newest tf.Transform that
  resolves beside it; the versions that would change against ``constraints.txt``.

Writes results/version_skew.json (--out). The cluster tests check the same on real clusters
(a pipeline with each transform the jobs use, and the URNs).
"""

import importlib
import json
import os
import subprocess
import sys
import tempfile
from typing import Dict, List, Sequence

from benchmarks import common
from pipeline.cluster.local import config, install, urns

JOBS = ('explore', 'preprocess', 'score')
# What the portable runner is given; no job server is reached (capture stops before it).
_FLAGS = ['--runner=FlinkRunner', '--job_endpoint=localhost:8099', '--environment_type=EXTERNAL',
          '--environment_config=localhost:50000']


class _Captured(Exception):
    def __init__(self, proto):
        super().__init__('captured')
        self.proto = proto


def submitted_pipeline(command: str, argv: List[str], work_dir: str):
    """The pipeline proto of ``imdb-sentiment COMMAND ARGV`` as the portable runner would
    submit it (after its own optimisation phases), without submitting it."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability.portable_runner import PortableRunner
    from pipeline import flags
    job = importlib.import_module(f'pipeline.jobs.{command}').JOB
    job_args, beam_args = flags.parse(command, argv + _FLAGS)
    p = beam.Pipeline(options=PipelineOptions(beam_args))
    job.build(p, job_args, job.plan(job_args), work_dir)

    def capture(runner, pipeline, options):
        raise _Captured(runner._optimize_pipeline(pipeline, options))

    original, PortableRunner.run_portable_pipeline = PortableRunner.run_portable_pipeline, capture
    try:
        p.run()
    except _Captured as captured:
        return captured.proto
    finally:
        PortableRunner.run_portable_pipeline = original
    raise RuntimeError(f'{command}: the runner submitted nothing')


def _pins() -> Dict[str, str]:
    with open(os.path.join(common.ROOT, 'constraints.txt')) as f:
        return dict(line.strip().lower().split('==', 1) for line in f
                    if '==' in line and not line.startswith('#'))


def resolve(requirements: List[str]) -> Dict:
    """pip's dry-run resolution of ``requirements``: the versions it picks, or its error."""
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, 'report.json')
        done = subprocess.run([sys.executable, '-m', 'pip', 'install', '--dry-run', '--quiet',
                               '--ignore-installed', '--disable-pip-version-check',
                               '--report', report, *requirements],
                              capture_output=True, text=True)
        if done.returncode or not os.path.exists(report):
            lines = [line for line in done.stdout.splitlines() + done.stderr.splitlines()
                     if 'depends on' in line or 'requested' in line or 'ERROR' in line]
            return {'requirements': requirements, 'resolves': False, 'why': lines[:8]}
        with open(report) as f:
            picked = {i['metadata']['name'].lower(): i['metadata']['version']
                      for i in json.load(f)['install']}
    pins = _pins()
    changed = {name: [pins[name], version] for name, version in sorted(picked.items())
               if name in pins and pins[name] != version}
    return {'requirements': requirements, 'resolves': True, 'packages': len(picked),
            'pinned_packages_changed': len(changed), 'changed': changed}


def main(argv: Sequence[str]) -> int:
    parser = common.parser('version_skew', __doc__)
    parser.add_argument('--input', default=common.TRAIN_CSV)
    parser.add_argument('--model', help='A trained export (needed for score).')
    parser.add_argument('--job', action='append', choices=JOBS,
                        help=f'A job to look at (repeatable; default: {", ".join(JOBS)}).')
    parser.add_argument('--no-pin', action='store_true', help='Skip the resolver dry runs.')
    parser.add_argument('--out', default=common.result_path('version_skew'))
    args = parser.parse_args(argv)
    jobs = args.job or JOBS
    if 'score' in jobs and not args.model:
        parser.error('score needs --model')
    cache = config.default_cache_dir()
    jars = {engine: install.job_server_jar(cache, server) for engine, server in
            (('flink', install.FLINK_JOB_SERVER), ('spark', install.SPARK_JOB_SERVER))}
    known = {engine: urns.jar_urns(jar) for engine, jar in jars.items() if os.path.exists(jar)}
    sdk = urns.sdk_urns()
    result = {**common.header('version_skew', argv),
              'job_server_version': install.BEAM_JOB_SERVER_VERSION,
              'model_urns': {'sdk': len(sdk), **{e: len(k) for e, k in known.items()}},
              'sdk_urns_the_job_servers_lack': {e: sorted(sdk - k) for e, k in known.items()},
              'jobs': {}}
    with tempfile.TemporaryDirectory() as work:
        commands = {'explore': ['--input', args.input], 'preprocess': ['--input', args.input],
                    'score': ['--input', args.input, '--model', args.model]}
        for command in jobs:
            used = urns.used(submitted_pipeline(command, commands[command] + ['--output', work],
                                                work))
            result['jobs'][command] = {
                'used': {kind: sorted(found) for kind, found in used.items()},
                'unknown_to_job_server': {
                    engine: {kind: sorted(found - k) for kind, found in used.items()
                             if found - k} for engine, k in known.items()}}
    if not args.no_pin:
        result['pin_to_job_server'] = [
            resolve([f'apache-beam[gcp]=={install.BEAM_JOB_SERVER_VERSION}',
                     f'tensorflow=={_pins()["tensorflow"]}',
                     f'tensorflow-transform=={_pins()["tensorflow-transform"]}']),
            resolve([f'apache-beam[gcp]=={install.BEAM_JOB_SERVER_VERSION}',
                     'tensorflow-transform==1.17.0']),
            resolve([f'apache-beam[gcp]=={install.BEAM_JOB_SERVER_VERSION}',
                     'tensorflow-transform==1.16.0'])]
    common.write_json(args.out, result)
    print(json.dumps({job: found['unknown_to_job_server'] for job, found in
                      result['jobs'].items()}, indent=1))
    return 0
