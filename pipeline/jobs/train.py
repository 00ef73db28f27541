"""The train job: preprocess TFRecords -> a trained LSTM exported as a raw-text SavedModel.

  imdb-sentiment train --data out/preprocess --output out/model [--epochs 10]

Writes into --output (replaced only when training and export succeed): the
SavedModel (serving_default takes raw review strings), plots/, history.csv,
logs/ (TensorBoard), checkpoints/ and manifest.json. With --registry, --output is a model
registry and the model becomes its next version, numbered when it is published (two
trainings at once get two versions); no --output may be a registry's version or lie inside
one, since a version is never written again.

--data and --output (a registry too) may be on object storage (gs://): TensorFlow then works
in a local scratch folder, with the files of --data that training reads copied down first,
and the export is copied up and published at the end.
"""

import argparse
import logging
import os
import tempfile
import time
from typing import Dict, List, Sequence

import tensorflow as tf

from pipeline import flags, new_version, registry
from pipeline.flags.commands import model_config
from pipeline.jobs.preprocess import read_by_trainer
from pipeline.runtime.guard import check_output, manifest_job
from pipeline.runtime.publish import StagedOutput, read_manifest
from trainer.task import train
from transforms import jsonio, schema
from transforms.local_copy import download, is_remote, relative_files, upload
from transforms.errors import TrainError

_LOG = logging.getLogger(__name__)

NAME = 'train'


def main(job_args: argparse.Namespace, beam_args: List[str]) -> int:
    """Runs the parsed command; returns the exit code."""
    config = model_config(job_args)  # its values were checked when the flags were parsed
    _check_data(job_args.data)
    if job_args.registry:
        _check_registry(job_args.output)
    elif registry.is_registry(job_args.output):
        raise TrainError(f'--output {job_args.output} is a model registry; add --registry to '
                         f'write its next version')
    staged = os.path.join(job_args.output, 'new') if job_args.registry else job_args.output
    check_output(staged, NAME, protected=[job_args.data])  # a registry: where it stages
    started = time.monotonic()
    out_dir = new_version.stage_version(job_args.output) if job_args.registry else \
        StagedOutput(job_args.output)
    # TensorFlow works on local files only: data on an object store is copied down first,
    # and an export for one is written locally, then copied into the staged output.
    with tempfile.TemporaryDirectory(prefix='imdb-sentiment-train-') as scratch, out_dir as out:
        data = _local_data(job_args.data, os.path.join(scratch, 'data'))
        work = os.path.join(scratch, 'model') if is_remote(out.path) else out.path
        os.makedirs(work, exist_ok=True)
        try:
            manifest = train(data, config, work)
        except (tf.errors.DataLossError, tf.errors.NotFoundError,
                tf.errors.InvalidArgumentError) as e:
            # Files that changed after the check (or an output older than file lists).
            raise TrainError(f'--data {job_args.data}: cannot read it: '
                             f'{" ".join(str(e.message).split())[:300]}') from None
        manifest['preprocess']['path'] = job_args.data
        manifest['created'] = jsonio.utc_now()
        manifest['wall_time_s'] = round(time.monotonic() - started, 1)
        if work != out.path:
            upload(work, out.path)
        out.write_manifest(manifest)
        output = new_version.publish_version(job_args.output, out) if job_args.registry \
            else out.publish()
    job_args.published = output  # for `run --models`, which goes on with this version
    _LOG.info('%s', summary_line(manifest, output))
    return 0


def _check_data(data: str) -> None:
    """A usage error (exit 2) unless ``data`` holds a preprocess output's manifest."""
    made_by = manifest_job(data)
    if made_by is None:
        if not is_remote(data) and not os.path.isdir(data):
            raise TrainError(f'--data {data}: no such folder')
        raise TrainError(f'--data {data}: no {schema.MANIFEST_FILE}; is it the output '
                         'folder of `imdb-sentiment preprocess`?')
    if made_by != 'preprocess':
        raise TrainError(f'--data {data} is the output of `imdb-sentiment {made_by}`; '
                         'pass the output folder of `imdb-sentiment preprocess`')
    if not is_remote(data):
        _check_data_files(data, data)


def _local_data(data: str, scratch: str) -> str:
    """``data`` itself on a local disk; from an object store, a local copy of its manifest
    and of the files the trainer reads (those the manifest lists, checked as on disk)."""
    if not is_remote(data):
        return data
    try:
        download(data, scratch, [schema.MANIFEST_FILE])
        listed = list((read_manifest(scratch) or {}).get(schema.OUTPUT_FILES_KEY) or [
            rel for rel in relative_files(data) if read_by_trainer(rel)])
        _LOG.info('Copying the %d files of --data %s that training reads to %s', len(listed),
                  data, scratch)
        download(data, scratch, listed)
    except OSError as e:
        raise TrainError(f'--data {data}: cannot copy it: {e}') from None
    _check_data_files(scratch, data)
    return scratch


def summary_line(manifest: Dict, output: str) -> str:
    """The job's last line: the model's headline figure and what it measured; never the
    eval split's figure once a branch was refitted on it (a training fit)."""
    h = manifest['headline']
    line = (f'Accuracy {h["accuracy"]:.4f} on {h["measured_on"]} (best epoch '
            f'{manifest["best_epoch"]} of {manifest["epochs_run"]}); model in {output}')
    if 'eval_fit' in manifest:
        line += ('. The eval split is training data of this model now: score a held-out '
                 'test split for the figure to quote')
    return line


def _check_registry(root: str) -> None:
    """A usage error (exit 2) unless ``root`` may hold a registry's versions: missing, empty,
    or a registry already, and writable."""
    if not is_remote(root) and os.path.lexists(root) and not os.path.isdir(root):
        raise TrainError(f'--output {root} is not a folder; not a model registry')
    if registry.entries(root) and not registry.is_registry(root):
        raise TrainError(f'--output {root} holds files that are not a model registry\'s; '
                         f'choose a new folder for --registry')
    registry.check_writable(root, '--output')


def _check_data_files(data: str, named: str) -> None:
    """A usage error (exit 2) when a file the preprocess manifest in the local folder ``data``
    lists is missing or has another size (a truncated copy, a deleted vocabulary); ``named``
    is the --data the user gave."""
    listed = (read_manifest(data) or {}).get(schema.OUTPUT_FILES_KEY) or {}
    for rel, size in listed.items():
        path = os.path.join(data, *rel.split('/'))
        if not os.path.isfile(path):
            raise TrainError(f'--data {named}: {rel} is missing; run preprocess again')
        if os.path.getsize(path) != size:
            raise TrainError(f'--data {named}: {rel} has {os.path.getsize(path)} bytes, its '
                             f'manifest says {size} (truncated?); run preprocess again')


def run(argv: Sequence[str] = None) -> int:
    """``imdb-sentiment train ARGV`` in this process."""
    return main(*flags.parse(NAME, argv or []))
