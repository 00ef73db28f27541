"""Do the requests a job sends the object store grow with the files it writes, not the reviews?

  python -m benchmarks object_store_requests --input ../shared/data/imdb/train.csv \\
      --rows 2000 --rows 20000 [--model DIR] [--job explore --job score --job preprocess] \\
      [--job-env NAME=VALUE ...] [--work DIR]

A GCS emulator (fake-gcs-server, started as the tests start it: tests/support/gcs_emulator.py)
logs every request it answers. For each size the first N reviews of --input are put in its
bucket as one CSV, and each job runs on them as a user runs it, in a process of its own, its
input, model and --output on gs://: explore, score (with explanations; the model of --model or
a small one trained on the smallest size, uploaded first) and preprocess. Preprocess also hands
gs:// paths to TensorFlow's own GCS client (tf.Transform's temporary folder, in the staged
output), which reaches the emulator through the tests' HTTPS proxy
(tests/support/tf_gcs_proxy.py): its requests are counted too. (The proxy's "unknown ca"
traceback is Beam's DirectRunner trying to download Prism from github.com through it, not a
request to the store.)

Per job, from the emulator's log between the job's start and end: the requests (``requests``:
each part of a batch counted, the batch itself not; ``http_requests``: what went over the
wire), by kind (``kind``), by what they are about (the input, the model, the output with its
staging folder, lock and commit objects, or no object named), the lock's lease renewals, the
objects created (uploads and copies) by folder, the objects in the published output and any
left beside it, and the wall time. The figure: requests at the largest size over those at the
smallest, beside the same ratio of output objects and of objects created; ``growth.changed``
lists the counts that differ, which is where to look. Wall times are skewed by whatever else
runs (the load averages are recorded); the counts are not. Writes
results/object_store_requests.json (--out).
"""

import collections
import json
import os
import re
import tempfile
import time
import urllib.parse
from typing import Dict, List, Sequence, Tuple

from benchmarks import common
from tests.support import gcs_emulator, tf_gcs_proxy

JOBS = ('explore', 'score', 'preprocess')
BUCKET = 'imdb-requests'
# Kinds whose successful requests make an object.
CREATING = ('upload', 'copy', 'rewrite', 'compose')


def kind(method: str, target: str) -> str:
    """What a logged request does, from its method and the shape of its path: bucket, list,
    metadata, download, upload (an object's upload, or the start of a resumable one),
    upload_data (a resumable upload's bytes), copy, rewrite, compose, delete, update, batch
    (the envelope of several), or other."""
    split = urllib.parse.urlsplit(target)   # a part of a batch is logged with a whole URL
    parts = split.path.split('/')[1:]       # object names keep their %2F: one part each
    if parts[:1] == ['batch']:
        return 'batch'
    if parts[:1] == ['upload']:
        return 'upload_data' if method == 'PUT' else 'upload'
    if parts[:1] == ['download']:
        return 'download'
    if parts[:2] != ['storage', 'v1']:
        # The XML API's GET /BUCKET/NAME: how TensorFlow reads an object.
        return 'download' if method == 'GET' and len(parts) >= 2 else 'other'
    rest = parts[2:]                        # b, BUCKET, o, NAME, copyTo|rewriteTo|compose, ...
    if len(rest) <= 2:
        return 'bucket'
    if len(rest) == 3:
        return 'list' if method == 'GET' else 'upload'
    if len(rest) > 4:
        return {'copyTo': 'copy', 'rewriteTo': 'rewrite', 'compose': 'compose'}.get(rest[4],
                                                                                      'other')
    if method == 'GET':
        query = urllib.parse.parse_qs(split.query)
        return 'download' if query.get('alt') == ['media'] else 'metadata'
    return {'DELETE': 'delete', 'PATCH': 'update', 'PUT': 'update'}.get(method, 'other')


def _names(target: str) -> List[str]:
    """The objects a logged request names, in its path or query: none (a bucket, a batch, a
    multipart upload, which names its object in its body), one, or two (a copy's source and
    destination)."""
    split = urllib.parse.urlsplit(target)
    parts = split.path.split('/')[1:]
    if parts[:1] == ['batch']:
        found = []
    elif parts[:1] == ['upload']:
        found = urllib.parse.parse_qs(split.query).get('name', [])
    elif parts[:1] == ['download']:
        found = parts[6:7]
    elif parts[:2] == ['storage', 'v1']:
        found = parts[5:6] + parts[10:11]   # .../o/NAME[/copyTo/b/BUCKET/o/NAME]
    else:                                   # the XML API: /BUCKET/NAME
        found = ['/'.join(parts[1:])] if len(parts) > 1 else []
    return [urllib.parse.unquote(name) for name in found]


def object_name(target: str) -> str:
    """The object a logged request is about ('' for none); a copy's source."""
    return next(iter(_names(target)), '')


def _of_output(name: str, output: str) -> bool:
    """Whether object ``name`` is the output's: under ``OUT/``, or beside it as its staging
    folder (``OUT.partial-*/``), lock or commit object (``OUT.lock``, ``OUT.commit``)."""
    return name == output or name.startswith((output + '/', output + '.'))


def folder_shape(name: str, output: str) -> str:
    """The folder of object ``name``, the output's prefix written ``OUT`` and its random
    parts starred: ``OUT.partial-*/_tft_tmp/tftransform_tmp/*/ngram_vocab_runs``."""
    if _of_output(name, output):
        name = 'OUT' + name[len(output):]
    folder = name.rsplit('/', 1)[0] if '/' in name else '.'
    folder = re.sub(r'\.partial-[0-9a-f]+', '.partial-*', folder)
    folder = re.sub(r'beam-temp-(\w+?)-[0-9a-f]{32}', r'beam-temp-\1-*', folder)
    return re.sub(r'/[0-9a-f]{32}(?=/|$)', '/*', folder)


def _about(name: str, output: str, input_name: str, model: str) -> str:
    if not name:
        return 'no object'
    if name == input_name:
        return 'input'
    if model and name.startswith(model + '/'):
        return 'model'
    return 'output' if _of_output(name, output) else 'other'


def _in_batch(target: str) -> bool:
    return target.startswith(('http://', 'https://'))


def tally(requests: List[Tuple[str, str, int, int]], output: str, input_name: str,
          model: str = '') -> Dict:
    """A job's requests (``Emulator.requests``), counted: totals, by kind, by what they are
    about (the input, the model, the output with its staging, lock and commit objects, or no
    object named), the lock's lease renewals, those refused, and the objects created, by
    folder."""
    kinds = [kind(method, target) for method, target, _, _ in requests]
    about, created = collections.Counter(), collections.Counter()
    renewals = 0
    for (method, target, status, _), what in zip(requests, kinds):
        name = object_name(target)
        about[_about(name, output, input_name, model)] += 1
        if what in CREATING and status < 400:
            made = _names(target)[-1:]      # a copy's destination
            created[folder_shape(made[0], output) if made else 'named in the body'] += 1
        # A replacement under a precondition on a generation (0 is "create if absent"):
        # here only the output lock's lease, renewed every 30 s.
        renewals += what == 'upload' and re.search(r'ifGenerationMatch=[1-9]', target) is not None
    batched = sum(_in_batch(target) for _, target, _, _ in requests)
    by_kind = collections.Counter(kinds)
    return {'requests': len(requests) - by_kind['batch'],
            'http_requests': len(requests) - batched,
            'in_batches': batched,
            'by_kind': dict(sorted(by_kind.items())),
            'about': dict(sorted(about.items())),
            'lease_renewals': renewals,
            'answered_4xx': sum(400 <= status < 500 for _, _, status, _ in requests),
            'objects_created': sum(created.values()),
            'objects_created_by_folder': dict(created.most_common())}


def _settled_log_size(emulator: gcs_emulator.Emulator, quiet_s: float = 0.5) -> int:
    """The log's size once it has not grown for ``quiet_s``: a request answered just before
    the job ended is logged a moment later."""
    size, deadline = emulator.log_size(), time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = emulator.log_size()
        if now == size:
            break
        size = now
    return size


def run_job(emulator: gcs_emulator.Emulator, env: Dict[str, str], job: str,
            argv: List[str], output: str, input_name: str, model: str) -> Dict:
    """Runs ``imdb-sentiment JOB ARGV --output gs://BUCKET/OUTPUT`` in environment ``env``
    and counts what it asked the emulator."""
    start = _settled_log_size(emulator)
    load = os.getloadavg()
    cmd = common.job_command(job, *argv, '--output', f'gs://{BUCKET}/{output}')
    run = common.run_timed(cmd, env=env)
    requests = emulator.requests(start, _settled_log_size(emulator))
    published = emulator.objects(BUCKET, output + '/')
    beside = [n for n in emulator.objects(BUCKET, output) if not n.startswith(output + '/')]
    manifest = emulator.read(BUCKET, f'{output}/manifest.json')
    return dict(command=common.shown(cmd), wall_s=round(run.wall_s, 1),
                peak_rss_mb=run.peak_rss_mb, load_average_at_start=load,
                reviews_read=json.loads(manifest)['counts']['read'],
                **tally(requests, output, input_name, model),
                output_objects=len(published), objects_beside_output=beside)


def _ratio(big: float, small: float):
    return round(big / small, 2) if small else None


def growth(small: Dict, big: Dict) -> Dict:
    """The largest size's figures over the smallest's, for one job, and the counts that
    changed between them ([smallest, largest]), by kind, by what they are about and by the
    folder of the objects created: where the difference is."""
    found = {key: _ratio(big[key], small[key])
             for key in ('reviews_read', 'wall_s', 'requests', 'http_requests', 'output_objects',
                         'objects_created', 'lease_renewals')}
    found['changed'] = {}
    for key in ('by_kind', 'about', 'objects_created_by_folder'):
        found['changed'][key] = {name: [small[key].get(name, 0), big[key].get(name, 0)]
                                 for name in sorted(set(small[key]) | set(big[key]))
                                 if small[key].get(name) != big[key].get(name)}
    return found


def _upload_folder(emulator: gcs_emulator.Emulator, local: str, name: str) -> str:
    for folder, _, files in os.walk(local):
        for file in files:
            path = os.path.join(folder, file)
            rel = os.path.relpath(path, local).replace(os.sep, '/')
            with open(path, 'rb') as f:
                emulator.upload(BUCKET, f'{name}/{rel}', f.read())
    return f'gs://{BUCKET}/{name}'


def measure(emulator: gcs_emulator.Emulator, proxy: tf_gcs_proxy.Proxy, jobs: Sequence[str],
            inputs: Dict[int, str], model: str, job_env: Dict[str, str], result: Dict,
            out: str) -> None:
    """Each job at each size (``inputs``: the local CSV of each), into ``result['sizes']``,
    written to ``out`` after each job."""
    emulator.create_bucket(BUCKET)
    base = common.checkout_env()
    env = dict(base, **gcs_emulator.emulator_env(emulator, base), **job_env)
    # Only preprocess hands gs:// paths to TensorFlow itself; the others run as the tests
    # run them, without the proxy.
    envs = {job: dict(env, **proxy.env()) if job == 'preprocess' else env for job in jobs}
    model_gs = _upload_folder(emulator, model, 'model') if 'score' in jobs else None
    for n, local in sorted(inputs.items()):
        with open(local, 'rb') as f:
            data = f.read()
        name = f'inputs/reviews-{n}.csv'
        csv = emulator.upload(BUCKET, name, data)
        argvs = {'explore': ['--input', csv],
                 'score': ['--input', csv, '--model', model_gs],
                 'preprocess': ['--input', csv]}
        found = result['sizes'][str(n)] = {'input_bytes': len(data), 'jobs': {}}
        for job in jobs:
            run = found['jobs'][job] = run_job(emulator, envs[job], job, argvs[job],
                                               f'{n}/{job}', name, 'model')
            print(f'{n} reviews, {job}: {run["requests"]} requests, '
                  f'{run["output_objects"]} output objects', flush=True)
            common.write_json(out, result)


def main(argv: Sequence[str]) -> int:
    parser = common.parser('object_store_requests', __doc__)
    parser.add_argument('--input', default=common.TRAIN_CSV)
    parser.add_argument('--rows', type=int, action='append', required=True,
                        help='A size: the first N reviews of --input (repeatable).')
    parser.add_argument('--job', action='append', choices=JOBS,
                        help=f'What to run (repeatable; default all: {", ".join(JOBS)}).')
    parser.add_argument('--model', help='A trained model for score (default: train a small '
                                        'one on the smallest size).')
    parser.add_argument('--job-env', action='append', default=[], metavar='NAME=VALUE',
                        help='An environment variable for the jobs (repeatable): a lever to '
                             'measure.')
    parser.add_argument('--work', default=None, help='Work folder (default: a new one in /tmp); '
                                                     'it keeps the emulator\'s log.')
    parser.add_argument('--out', default=common.result_path('object_store_requests'))
    args = parser.parse_args(argv)
    if any('=' not in pair for pair in args.job_env):
        parser.error('--job-env takes NAME=VALUE')
    job_env = dict(pair.split('=', 1) for pair in args.job_env)
    jobs, sizes = args.job or JOBS, sorted(set(args.rows))
    work = args.work or tempfile.mkdtemp(prefix='object-store-requests-')
    os.makedirs(work, exist_ok=True)
    inputs = {n: common.subset(os.path.abspath(args.input), n, work) for n in sizes}
    model = args.model
    if 'score' in jobs and not model:
        model = os.path.join(work, 'model')
        if not os.path.exists(os.path.join(model, 'saved_model.pb')):
            common.train_small_model(inputs[sizes[0]], work, model)
    try:
        binary = gcs_emulator.ensure_binary()
    except gcs_emulator.Unavailable as e:
        raise SystemExit(f'object_store_requests: no GCS emulator here: {e}')
    result = dict(common.header('object_store_requests', argv), input=args.input,
                  emulator=f'fake-gcs-server {gcs_emulator.VERSION}, in memory, on 127.0.0.1',
                  job_env=job_env, load_average_at_start=os.getloadavg(), sizes={}, growth={})
    with gcs_emulator.Emulator(binary, work, log_requests=True) as emulator, \
            tf_gcs_proxy.Proxy(emulator.url, work) as proxy:
        measure(emulator, proxy, jobs, inputs, model, job_env, result, args.out)
    if len(sizes) > 1:
        small, big = (result['sizes'][str(n)]['jobs'] for n in (sizes[0], sizes[-1]))
        result['growth'] = {f'{sizes[-1]} over {sizes[0]}': {
            job: growth(small[job], big[job]) for job in jobs}}
    result['load_average_at_end'] = os.getloadavg()
    common.write_json(args.out, result)
    return 0
