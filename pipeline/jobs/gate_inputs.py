"""What the model gate (``imdb-sentiment evaluate``) may judge on, checked before any work.

- The reviews: the registry's gate set (``pipeline.gate_set``), with --data beside it or, for
  a registry without one, --data alone; never reviews the candidate was trained on (an input
  of the preprocess output it trained on, or the eval split it was refitted on: exit 2).
- The baseline: a registry with no champion, or the candidate itself, is no baseline; the
  floor alone decides, and the verdict says why.
- The output: never inside a model registry, where it would take a version's place.
Each refusal is a usage error (exit 2) in one line.
"""

import glob
import os
from typing import Dict, List, Optional, Sequence, Tuple

from pipeline import gate_set, model_lookup, registry
from pipeline.runtime import object_store
from transforms import schema
from transforms.beam.inference import read_model_manifest
from transforms.beam.inputs import ACLIMDB, InputSpec
from transforms.errors import InputError, OutputError


def _holds_registry(path: str) -> bool:
    """A folder a registry owns: its champion record, verdicts, gate set or a version."""
    names = registry.entries(path)
    return bool({registry.CHAMPION_FILE, registry.VERDICTS_DIR, gate_set.FOLDER} & set(names)
                or names and registry.versions(path))


def check_output(output: str) -> None:
    """Refuses an --output inside a model registry (or the registry itself)."""
    path = output.rstrip('/') if not object_store.is_local(output) else \
        os.path.abspath(output.rstrip('/') or '/')
    while True:
        if _holds_registry(path):
            raise OutputError(f'--output {output} is inside the model registry {path}: the '
                              f'evaluation would take a version\'s place there; write it '
                              f'elsewhere (its verdict is recorded in the registry anyway)')
        parent = object_store.parent(path)
        if parent == path:
            return
        path = parent


def baseline(given: Optional[str], candidate: str) -> Tuple[Optional[str], Optional[str]]:
    """(the baseline's export or None, why there is none when one was given)."""
    if not given:
        return None, None
    if not model_lookup.is_export(given) and registry.is_registry(given) and not registry.champion(given):
        return None, (f'--baseline {given} has no champion yet: judged on the floor alone')
    found = model_lookup.resolve_model(given, flag='--baseline')
    if os.path.realpath(found) == os.path.realpath(candidate):
        return None, (f'--baseline {given} is the candidate itself ({found}): judged on the '
                      f'floor alone')
    return found, None


def registry_of(paths: Sequence[Optional[str]]) -> Optional[str]:
    """The model registry the first of ``paths`` (a registry, or one's version) belongs to."""
    for path in paths:
        if not path:
            continue
        if not model_lookup.is_export(path) and registry.is_registry(path):
            return path
        if model_lookup.is_export(path):
            found = model_lookup.describe(path).get('registry')
            if found:
                return found
    return None


def _files(path: str) -> List[str]:
    """The real paths an input path names (a folder: itself, which holds its files)."""
    if os.path.isdir(path):
        return [os.path.realpath(path)]
    return [os.path.realpath(p) for p in (glob.glob(path) or [path])]


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def trained_on(candidate: str, specs: Sequence[InputSpec]) -> Optional[str]:
    """Why ``specs`` hold reviews the candidate was trained on, or None: its manifest names
    the preprocess output it learnt from (whose train split came from that output's inputs)
    and whether it was refitted on the eval split (``eval_fit``)."""
    manifest = read_model_manifest(candidate) or {}
    pre = manifest.get('preprocess') or {}
    if not pre.get('path'):
        return None
    root = os.path.realpath(pre['path'])
    learnt = [f for i in (pre.get('manifest') or {}).get('inputs') or []
              if i.get('path') for f in _files(i['path'])]
    eval_split = os.path.join(root, schema.EVAL_REVIEWS_DIR)
    for spec in specs:
        for file in ([spec.path] if spec.format == ACLIMDB else spec.files):
            real = os.path.realpath(file)
            if 'eval_fit' in manifest and _inside(real, eval_split):
                return (f'--data {spec.path} is the eval split that the candidate was refitted '
                        f'on ({eval_split}): training data, not a measure')
            if any(_inside(real, f) for f in learnt):
                return (f'--data {spec.path} is an input of {pre["path"]}, whose train split the '
                        f'candidate learnt from: judge it on reviews it never saw')
    return None


def check_data(candidate: str, data: Sequence[str], specs: Sequence[InputSpec],
               gate: Optional[Dict]) -> None:
    """Refuses no reviews at all, and reviews the candidate was trained on."""
    if not data and not gate:
        raise InputError('no reviews to judge on: give --data, or pin a gate set in the '
                         'registry (`imdb-sentiment models gate-set REGISTRY --data FILE '
                         '--reason WHY`)')
    why = trained_on(candidate, specs)
    if why:
        raise InputError(why)
