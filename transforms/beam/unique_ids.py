"""One id, one record, across every input: a repeated id is a dead letter, not a second row.

Ids that the readers make (``<file>:<row>``, ``<folder>/<pos|neg>/<file>``) are unique by
construction; an ``id`` column is the user's, and may repeat, within a file or across the
files of a glob. Every record but the first (in the order the inputs and their files were
named, then record number, whatever the runner) of an id is marked ``duplicate_id``, with
the id and the record it repeats, and validation sends it to the dead letters.

The check holds 8 bytes per record in its combine, not the records nor their ids:

1. a light read of the files gives each id's fingerprint (64 bits of BLAKE2b), and one
   combine finds the fingerprints seen twice or more: the suspects (``RepeatedFingerprints``);
2. a second light read keeps only the ids whose fingerprint is a suspect, with their places,
   and a shuffle of those alone finds the true repeats and the record each one repeats;
3. the records the job processes stream past the repeats (a side input of the repeats only).

A shuffle of every id, as before, is held whole in memory by the DirectRunner: the intake
alone went from 229 MB at 25k reviews to 652 MB at 1M, about 430 bytes an id; with the
fingerprints, 227 and 293 MB (``benchmarks/id_check.py``). The reads are separate
from the job's own records, so no stage waits on a collection held in memory. Two ids that
share a fingerprint (about one chance in 4 x 10^7 among 10^6 ids) are only suspects, compared
exactly in the shuffle.
"""

import array
import hashlib
from typing import Dict, Iterable, Iterator, Tuple

import apache_beam as beam
import numpy as np

from transforms import schema
from transforms.beam.read import FILE_KEY, ROW_KEY

# (input number, file number, record number, source file): the first in this order is the
# record an id belongs to; the order the user named the inputs in, whatever the runner.
Place = Tuple[int, int, int, str]


def fingerprint(record_id: str) -> int:
    """64 bits of the id, the same in every process (``hash()`` is salted per process)."""
    digest = hashlib.blake2b(record_id.encode('utf-8', 'surrogatepass'), digest_size=8)
    return int.from_bytes(digest.digest(), 'little')


class RepeatedFingerprints(beam.CombineFn):
    """Fingerprints -> the set of those seen more than once. The accumulator is an array of
    64-bit integers (8 bytes a record); only the repeats come out."""

    def create_accumulator(self):
        return array.array('Q')

    def add_input(self, accumulator, value):
        accumulator.append(value)
        return accumulator

    def merge_accumulators(self, accumulators):
        merged = array.array('Q')
        for accumulator in accumulators:
            merged.extend(accumulator)
        return merged

    def extract_output(self, accumulator):
        values = np.sort(np.frombuffer(accumulator, dtype=np.uint64)) if accumulator \
            else np.zeros(0, np.uint64)
        return frozenset(int(v) for v in values[1:][values[1:] == values[:-1]])


def _id_and_place(record: Dict) -> Iterator[Tuple[str, Place]]:
    if not record.get(schema.PARSE_ERROR_KEY):
        yield record[schema.ID_KEY], (*record[FILE_KEY], record[ROW_KEY], record[schema.SOURCE_KEY])


def _repeats(grouped: Tuple[str, Iterable[Place]]) -> Iterator[Tuple[Place, Place]]:
    """(id, places) -> (place of a repeat, place of the first record with that id)."""
    _, places = grouped
    ordered = sorted(places)
    for later in ordered[1:]:
        yield later, ordered[0]


def _suspected(id_and_place: Tuple[str, Place], suspects: frozenset) -> bool:
    if suspects and fingerprint(id_and_place[0]) in suspects:
        beam.metrics.Metrics.counter('ids', 'suspected').inc()
        return True
    return False


def mark_repeat(record: Dict, repeats: Dict[Place, Place]) -> Dict:
    """The record, marked as a repeat when ``repeats`` holds its place (a copy: Beam
    elements are never changed in place)."""
    number = record.get(FILE_KEY) or (None, None)
    first = repeats.get((*number, record.get(ROW_KEY), record.get(schema.SOURCE_KEY)))
    if first is None:
        return record
    beam.metrics.Metrics.counter('ids', 'repeated').inc()
    # The dead letter is named by its place, as every unparsed record is: the id is taken.
    source = record[schema.SOURCE_KEY].replace('\\', '/').rstrip('/').split('/')[-1]
    return dict(record, **{
        schema.ID_KEY: f'{source}:{record[ROW_KEY]}',
        schema.PARSE_ERROR_KEY: schema.REASON_DUPLICATE_ID,
        schema.DETAIL_KEY: f'id {record[schema.ID_KEY][:80]!r} was given to record '
                           f'{first[2]} of {first[3]} already'})


def ids_of(records: beam.PCollection, label: str = 'IdAndPlace') -> beam.PCollection:
    """Raw record dicts (of a light read) -> (id, place) of each parsed record."""
    return records | label >> beam.FlatMap(_id_and_place)


class FindRepeats(beam.PTransform):
    """(ids, ids_again), each (id, place) of every record from ``ids_of`` over a light read of
    the inputs -> (place of a repeat, place of the first record with its id), repeats only.

    The first read is fingerprinted, the second filtered by the suspects."""

    def expand(self, both):
        ids, ids_again = both
        suspects = (ids
                    | 'Fingerprint' >> beam.Map(lambda id_and_place: fingerprint(id_and_place[0]))
                    | 'Suspects' >> beam.CombineGlobally(RepeatedFingerprints()))
        return (ids_again
                | 'KeepSuspects' >> beam.Filter(_suspected, beam.pvalue.AsSingleton(suspects))
                | 'GroupById' >> beam.GroupByKey()
                | 'Repeats' >> beam.FlatMap(_repeats))


def mark_repeats(records: beam.PCollection, repeats: beam.PCollection,
                 label: str = 'MarkRepeats') -> beam.PCollection:
    """Raw record dicts -> the same records, each at a place in ``repeats`` (``FindRepeats``)
    marked ``duplicate_id``."""
    return records | label >> beam.Map(mark_repeat, beam.pvalue.AsDict(repeats))
