"""The train job: preprocess TFRecords -> a trained LSTM exported as a raw-text SavedModel.

  imdb-sentiment train --data out/preprocess --output out/model [--epochs 10]

Writes into --output (replaced only when training and export succeed): the
SavedModel (serving_default takes raw review strings), plots/, history.csv,
logs/ (TensorBoard), checkpoints/ and manifest.json.
"""

import argparse
import logging
import os
import time
from typing import List, Sequence

from pipeline import flags
from pipeline.flags.commands import model_config
from pipeline.runtime.guard import check_output, manifest_job
from pipeline.runtime.publish import StagedOutput
from trainer.task import train
from transforms import jsonio, schema
from transforms.errors import TrainError

_LOG = logging.getLogger(__name__)

NAME = 'train'


def main(job_args: argparse.Namespace, beam_args: List[str]) -> int:
    """Runs the parsed command; returns the exit code."""
    config = model_config(job_args)  # its values were checked when the flags were parsed
    if not os.path.isdir(job_args.data):
        raise TrainError(f'--data {job_args.data}: no such folder')
    made_by = manifest_job(job_args.data)
    if made_by is None:
        raise TrainError(f'--data {job_args.data}: no {schema.MANIFEST_FILE}; is it the output '
                         'folder of `imdb-sentiment preprocess`?')
    if made_by != 'preprocess':
        raise TrainError(f'--data {job_args.data} is the output of `imdb-sentiment {made_by}`; '
                         'pass the output folder of `imdb-sentiment preprocess`')
    check_output(job_args.output, NAME, protected=[job_args.data])
    started = time.time()
    with StagedOutput(job_args.output) as out:
        manifest = train(job_args.data, config, out.path)
        manifest['created'] = jsonio.utc_now()
        manifest['wall_time_s'] = round(time.time() - started, 1)
        jsonio.write_json(os.path.join(out.path, schema.MANIFEST_FILE), manifest)
        out.publish()
    v = manifest['validation']
    _LOG.info('Validation accuracy %.4f, AUC %.4f (best epoch %d of %d); model in %s',
              v['accuracy'], v.get('auc', float('nan')), manifest['best_epoch'],
              manifest['epochs_run'], job_args.output)
    return 0


def run(argv: Sequence[str] = None) -> int:
    """``imdb-sentiment train ARGV`` in this process."""
    return main(*flags.parse(NAME, argv or []))
