"""The models command: a model registry's versions, and its champion moved by hand.

  imdb-sentiment models list /models
  imdb-sentiment models promote /models 4 --reason "blessed on the November data"
  imdb-sentiment models promote /models 3 --force --reason "4 mislabels sarcasm; back to 3"
  imdb-sentiment models rollback /models --reason "complaints about last night"
  imdb-sentiment models gate-set /models --data trusted.csv --reason "hand-checked labels"

A registry holds one export per integer version (1/, 2/, ...: TensorFlow Serving serves the
folder as it is), the champion record (champion.json) that `score --model /models` reads,
and the verdicts of `imdb-sentiment evaluate` (blessings/). Promote checks the version
against its manifest, refuses one whose content was not blessed unless --force, and records
who and why; it also replaces a champion record that cannot be read. Rollback brings back the
champion before the current one, once its version is checked. The record is replaced
atomically (on gs://, by compare-and-swap) and versions are never rewritten, so a nightly run
reading a model never sees a half-written or mixed one. A registry may be on a local disk or
on gs:// (gs://BUCKET/models).

The gate set (pipeline/gate_set.py, DIR/gate_set/) holds the trusted labelled reviews that
evaluate judges every candidate on. The first promotion pins it from the reviews of the
evaluation that blessed the version; gate-set pins one on purpose, and replaces one only
with --replace.
"""

import argparse
import logging
from typing import List, Sequence

from pipeline import flags, gate_set, registry
from transforms.errors import InputError, ModelError

_LOG = logging.getLogger(__name__)

NAME = 'models'


def _list(path: str) -> None:
    versions = registry.versions(path)
    if not versions and not registry.is_registry(path):
        raise ModelError(f'{path}: not a model registry (no version folders, no '
                         f'{registry.CHAMPION_FILE}); `imdb-sentiment train --registry` writes one')
    champion = registry.champion(path) or {}
    print(f'{"version":>8}  {"trained":<25}  {"verdict":<12}  champion')
    for number in versions:
        described = registry.describe_version(path, number)
        verdict = described['verdict']
        print(f'{number:>8}  {str(described["created"] or "?"):<25}  {verdict:<12}  '
              f'{"*" if champion.get("version") == number else ""}')
    if champion:
        print(f'champion: version {champion["version"]}, promoted {champion.get("promoted")} '
              f'by {champion.get("by")}' + (f' ({champion["reason"]})'
                                            if champion.get('reason') else '') +
              (', forced' if champion.get('forced') else ''))
    else:
        print('champion: none yet (score uses the newest version that verifies)')
    print(gate_set.describe(gate_set.manifest(path)))


def _pin_first(path: str, record: dict) -> None:
    """The first champion's evaluation reviews become the gate set, when none is pinned."""
    if gate_set.manifest(path):
        return
    data = (record.get('evaluation') or {}).get('data') or []
    if not data:
        _LOG.warning('%s has no gate set, and version %d was promoted without an evaluation '
                     'on --data: pin one with `imdb-sentiment models gate-set %s --data FILE '
                     '--reason WHY`', path, record['version'], path)
        return
    try:
        pinned = gate_set.pin(path, data, f'the reviews that blessed version '
                                          f'{record["version"]}, the first champion',
                              by='imdb-sentiment models promote')
    except (ModelError, InputError) as e:
        _LOG.warning('No gate set pinned from %s (%s): pin one with `imdb-sentiment models '
                     'gate-set %s --data FILE --reason WHY`', ' '.join(data), e, path)
        return
    print(gate_set.describe(pinned))


def main(job_args: argparse.Namespace, beam_args: List[str]) -> int:
    """Runs the parsed command; returns the exit code."""
    if job_args.action == 'list':
        _list(job_args.registry)
        return 0
    if job_args.action == 'gate-set':
        print(gate_set.describe(gate_set.pin(job_args.registry, job_args.data,
                                             job_args.reason, replace=job_args.replace)))
        return 0
    if job_args.action == 'promote':
        record = registry.promote(job_args.registry, job_args.version, job_args.reason,
                                  force=job_args.force)
        _pin_first(job_args.registry, record)
    else:
        record = registry.rollback(job_args.registry, job_args.reason)
    if record.get('repaired'):
        print(f'the champion record was not valid ({record["repaired"]}): replaced, keeping '
              f'{len(record["history"])} champion(s) of its history')
    print(f'champion: version {record["version"]} (was {record["previous"] or "none"})')
    return 0


def run(argv: Sequence[str] = None) -> int:
    """``imdb-sentiment models ARGV`` in this process."""
    return main(*flags.parse(NAME, argv or []))
