"""One id, one record, across every input: a repeated id is a dead letter, not a second row.

Ids that the readers make (``<file>:<row>``, ``<folder>/<pos|neg>/<file>``) are unique by
construction; an ``id`` column is the user's, and may repeat, within a file or across the
files of a glob. The check is a shuffle of the ids alone, not of the records: each id with
the place of the records that give it; every record but the first (in the order the inputs
and their files were named, then record number, whatever the runner) of an id is marked ``duplicate_id``, with the id and the record
it repeats, and validation sends it to the dead letters.

The ids come from a second, light read of the files (``ids_of``), not from the records the
job processes: a side input computed from the records themselves would make the
DirectRunner hold every record until the check is done. The records stream as before; the
shuffle holds one short entry per record (on a cluster it spills to disk) and the side input
only the repeats.
"""

from typing import Dict, Iterable, Iterator, Tuple

import apache_beam as beam

from transforms import schema
from transforms.beam.read import FILE_KEY, ROW_KEY

# (input number, file number, record number, source file): the first in this order is the
# record an id belongs to; the order the user named the inputs in, whatever the runner.
Place = Tuple[int, int, int, str]


def _id_and_place(record: Dict) -> Iterator[Tuple[str, Place]]:
    if not record.get(schema.PARSE_ERROR_KEY):
        yield record[schema.ID_KEY], (*record[FILE_KEY], record[ROW_KEY], record[schema.SOURCE_KEY])


def _repeats(grouped: Tuple[str, Iterable[Place]]) -> Iterator[Tuple[Place, Place]]:
    """(id, places) -> (place of a repeat, place of the first record with that id)."""
    _, places = grouped
    ordered = sorted(places)
    for later in ordered[1:]:
        yield later, ordered[0]


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


def ids_of(records: beam.PCollection) -> beam.PCollection:
    """Raw record dicts (of the light read) -> (id, (source file, record number))."""
    return records | 'IdAndPlace' >> beam.FlatMap(_id_and_place)


class UniqueIds(beam.PTransform):
    """Raw record dicts -> the same records, every repeat of an id marked ``duplicate_id``.

    ``ids``: (id, place) of every record, from ``ids_of`` over a second read of the inputs."""

    def __init__(self, ids: beam.PCollection):
        super().__init__()
        self._ids = ids

    def expand(self, records):
        repeats = (self._ids
                   | 'GroupById' >> beam.GroupByKey()
                   | 'Repeats' >> beam.FlatMap(_repeats))
        return records | 'MarkRepeats' >> beam.Map(mark_repeat, beam.pvalue.AsDict(repeats))
