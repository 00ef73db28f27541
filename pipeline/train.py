"""The train job: preprocess TFRecords -> a trained LSTM exported as a raw-text SavedModel.

  imdb-sentiment train --data out/preprocess --output out/model [--epochs 10]

Writes into --output (replaced only when training and export succeed): the
SavedModel (serving_default takes raw review strings), plots/, history.csv,
logs/ (TensorBoard), checkpoints/ and manifest.json.
"""

import argparse
import dataclasses
import logging
import os
import time
from typing import Sequence

from transforms import features
from transforms.errors import TrainError
from trainer.config import ModelConfig

_LOG = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='imdb-sentiment train', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', required=True, metavar='DIR',
                        help='Output folder of `imdb-sentiment preprocess`.')
    parser.add_argument('--output', required=True, metavar='DIR', help='Model folder to write.')
    for field in dataclasses.fields(ModelConfig):
        flag = '--' + field.name.replace('_', '-')
        # The help text lives with the field (trainer.config); '%' would be a format code.
        text = field.metadata['help'].replace('%', '%%') + ' (default %(default)s)'
        if field.type in (bool, 'bool'):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction,
                                default=field.default, help=text)
        else:
            kind = {'int': int, 'float': float, 'str': str}.get(field.type, field.type)
            parser.add_argument(flag, type=kind, default=field.default, help=text)
    return parser


def run(argv: Sequence[str] = None) -> int:
    args = _parser().parse_args(list(argv or []))
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(ModelConfig)}
    try:
        config = ModelConfig(**values)
    except ValueError as e:
        raise TrainError(str(e)) from None
    if not os.path.isdir(args.data):
        raise TrainError(f'--data {args.data}: no such folder')
    # Loaded once the arguments parsed, so that --help stays fast: Beam comes with them.
    from transforms import outputs
    from transforms.output_guard import check_output, manifest_job
    made_by = manifest_job(args.data)
    if made_by is None:
        raise TrainError(f'--data {args.data}: no {features.MANIFEST_FILE}; is it the output '
                         'folder of `imdb-sentiment preprocess`?')
    if made_by != 'preprocess':
        raise TrainError(f'--data {args.data} is the output of `imdb-sentiment {made_by}`; '
                         'pass the output folder of `imdb-sentiment preprocess`')
    check_output(args.output, 'train', protected=[args.data])
    from trainer.task import train  # TensorFlow loads only once the arguments are fine
    started = time.time()
    with outputs.StagedOutput(args.output) as out:
        manifest = train(args.data, config, out.path)
        manifest['created'] = outputs.utc_now()
        manifest['wall_time_s'] = round(time.time() - started, 1)
        outputs.write_json(os.path.join(out.path, features.MANIFEST_FILE), manifest)
        out.publish()
    v = manifest['validation']
    _LOG.info('Validation accuracy %.4f, AUC %.4f (best epoch %d of %d); model in %s',
              v['accuracy'], v.get('auc', float('nan')), manifest['best_epoch'],
              manifest['epochs_run'], args.output)
    return 0
