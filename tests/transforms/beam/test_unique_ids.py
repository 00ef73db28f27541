"""Ids unique across the inputs: a repeated id is a dead letter named by its place, found across
merged accumulators, and only the records whose id repeats cross the shuffle."""

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.beam.unique_ids import (FindRepeats, RepeatedFingerprints, fingerprint, ids_of,
                                        mark_repeats)


def test_repeated_ids_across_files_are_dead_letters_named_by_their_place():
    # b.csv was named first: its record 1 is the one id r1 belongs to.
    records = [{'id': 'r1', 'source': '/d/a.csv', 'row': 1, 'file_number': (1, 0)},
               {'id': 'r1', 'source': '/d/b.csv', 'row': 1, 'file_number': (0, 0)},
               {'id': 'r2', 'source': '/d/a.csv', 'row': 2, 'file_number': (1, 0)},
               {'id': 'r1', 'source': '/d/a.csv', 'row': 3, 'file_number': (1, 0)}]
    with TestPipeline() as p:
        rows = p | beam.Create(records)
        marked = mark_repeats(rows, (ids_of(p | 'Ids' >> beam.Create(records)),
                                     ids_of(p | 'Again' >> beam.Create(records),
                                            label='Again ids')) | FindRepeats())
        assert_that(marked | beam.Map(lambda r: (r['id'], r.get('parse_error'), r.get('detail'))),
                    equal_to([('r1', None, None), ('r2', None, None),
                              ('a.csv:1', 'duplicate_id',
                               "id 'r1' was given to record 1 of /d/b.csv already"),
                              ('a.csv:3', 'duplicate_id',
                               "id 'r1' was given to record 1 of /d/b.csv already")]))


def test_repeated_fingerprints_are_found_across_merged_accumulators():
    combine = RepeatedFingerprints()
    parts = [['a', 'b', 'c'], ['d', 'b'], [], ['e', 'e', 'b']]
    accumulators = []
    for part in parts:
        accumulator = combine.create_accumulator()
        for record_id in part:
            accumulator = combine.add_input(accumulator, fingerprint(record_id))
        accumulators.append(accumulator)
    assert combine.extract_output(combine.merge_accumulators(accumulators)) == {
        fingerprint('b'), fingerprint('e')}
    assert combine.extract_output(combine.create_accumulator()) == frozenset()
    # The same in any process: no per-process salt, as hash() has for strings.
    assert fingerprint('r1') == fingerprint(''.join(['r', '1'])) != fingerprint('r2')


def test_the_id_shuffle_carries_only_the_records_whose_id_repeats():
    """The memory of the id check: of 3,002 records, only the 3 that share an id reach the
    shuffle (each id with its place, and the DirectRunner holds a shuffle whole); the other
    ids are fingerprints in an array."""
    records = [{'id': f'r{i}', 'source': '/d/a.csv', 'row': i, 'file_number': (0, 0)}
               for i in range(1, 3001)]
    records += [{'id': 'r7', 'source': '/d/b.csv', 'row': 1, 'file_number': (0, 1)},
                {'id': 'r7', 'source': '/d/b.csv', 'row': 2, 'file_number': (0, 1)}]
    pipeline = TestPipeline()
    ids = ids_of(pipeline | 'Ids' >> beam.Create(records))
    again = ids_of(pipeline | 'Again' >> beam.Create(records), label='Again ids')
    repeats = (ids, again) | FindRepeats()
    marked = mark_repeats(pipeline | beam.Create(records), repeats)
    assert_that(marked | beam.Filter(lambda r: r.get('parse_error'))
                | beam.Map(lambda r: (r['id'], r['detail'])),
                equal_to([('b.csv:1', "id 'r7' was given to record 7 of /d/a.csv already"),
                          ('b.csv:2', "id 'r7' was given to record 7 of /d/a.csv already")]))
    result = pipeline.run()
    result.wait_until_finish()
    counters = {c.key.metric.name: c.committed for c in result.metrics().query(
        MetricsFilter().with_namespace('ids'))['counters']}
    assert counters == {'suspected': 3, 'repeated': 2}
