"""Writes a trained model's SavedModel again with this checkout's export code, from its weights.

  python -m benchmarks reexport_model --model /tmp/acc24/work/model \\
      --out /tmp/acc24/model-trimmed [--preprocess DIR] [--check ../shared/data/imdb/train.csv]

For measuring an export change on a model that took hours to train, without training it
again: the network is rebuilt from the manifest's config and sizes, ``model.weights.h5`` is
loaded into it, and ``trainer.export.export`` writes the SavedModel with the transform graph
of the preprocess output the model was trained on (``--preprocess``, by default the path its
manifest names). Everything else of the model folder is copied; the manifest's file list is
written for the new files and ``reexported_from`` names the original. ``--check`` scores the
first 512 reviews of a CSV with both exports and fails if a probability differs by more than
1e-5. ``--out`` must not exist nor overlap ``--model``; it appears only when whole.
"""

import csv
import json
import os
import shutil
from typing import Sequence

from benchmarks import common
from transforms import schema

_SERVED = ('saved_model.pb', 'fingerprint.pb', 'variables', 'assets')


def reexport(model: str, out: str, preprocess: str) -> None:
    """Writes the new model folder beside ``out`` and renames it into place when whole."""
    import tensorflow_transform as tft
    from trainer import export
    from trainer.task import rebuild_network
    from transforms.beam.inference import export_files

    network = rebuild_network(model)
    with open(os.path.join(model, schema.MANIFEST_FILE), encoding='utf-8') as f:
        manifest = json.load(f)
    partial = f'{out}.partial-{os.getpid()}'
    shutil.copytree(model, partial, ignore=lambda d, names: [n for n in names if d == model
                                                              and n in _SERVED])
    export.export(network, tft.TFTransformOutput(preprocess), partial)
    manifest[schema.EXPORT_FILES_KEY] = export_files(partial)
    manifest['reexported_from'] = os.path.abspath(model)
    with open(os.path.join(partial, schema.MANIFEST_FILE), 'w', encoding='utf-8') as f:
        json.dump(manifest, f, indent=2)
    os.rename(partial, out)


def largest_difference(first: str, second: str, csv_path: str, n: int = 512) -> float:
    from transforms.beam.inference import Classifier
    with open(csv_path, newline='', encoding='utf-8') as f:
        texts = [row['review'] for _, row in zip(range(n), csv.DictReader(f))]
    a, b = Classifier(first)(texts)[0], Classifier(second)(texts)[0]
    return float(abs(a - b).max())


def main(argv: Sequence[str]) -> int:
    parser = common.parser('reexport_model', __doc__)
    parser.add_argument('--model', required=True, help='A model folder of imdb-sentiment train.')
    parser.add_argument('--out', required=True, help='The new model folder (must not exist).')
    parser.add_argument('--preprocess', help='Its preprocess output (default: the manifest\'s).')
    parser.add_argument('--check', metavar='CSV', help='Compare both exports on 512 reviews.')
    args = parser.parse_args(argv)
    if os.path.lexists(args.out):
        parser.exit(2, f'reexport_model: {args.out} exists; name a new folder\n')
    model, out = os.path.realpath(args.model), os.path.realpath(args.out)
    if os.path.commonpath([model, out]) in (model, out):
        parser.exit(2, f'reexport_model: {args.out} overlaps the model {args.model}\n')
    if args.preprocess:
        preprocess = args.preprocess
    else:
        with open(os.path.join(args.model, schema.MANIFEST_FILE), encoding='utf-8') as f:
            preprocess = json.load(f)['preprocess']['path']
    reexport(args.model, args.out, preprocess)
    print(f'wrote {args.out}')
    if args.check:
        difference = largest_difference(args.model, args.out, args.check)
        print(f'largest probability difference on 512 reviews: {difference:.2e}')
        if difference > 1e-5:
            return 1
    return 0
