"""Small reusable Beam stages for writing rows and counting them."""

import csv
import io
import json
import os
from typing import Any, Callable

import apache_beam as beam


def to_json(row) -> str:
    """One JSON line: readable UTF-8, or ASCII escapes when the row holds text UTF-8 cannot
    carry (lone surrogates: the bytes of an undecodable record). JSON escapes every control
    character, so the line has no newline; U+0085 and U+2028 stay as they are, which is
    why JSON lines are split on '\\n' only (``transforms.jsonio.read_json_lines``)."""
    line = json.dumps(row, ensure_ascii=False, sort_keys=True, default=_plain)
    try:
        line.encode('utf-8')
    except UnicodeEncodeError:
        line = json.dumps(row, ensure_ascii=True, sort_keys=True, default=_plain)
    return line


def _plain(value):
    # numpy scalars and bytes from tf.Transform outputs.
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    if hasattr(value, 'item'):
        return value.item()
    if hasattr(value, 'tolist'):
        return value.tolist()
    raise TypeError(f'not JSON serializable: {type(value)}')


class _WriteLines(beam.PTransform):
    """Rows -> text shards ``<prefix>-SSSSS-of-NNNNN<suffix>``: each row made one line by
    ``to_line`` (applied as ``label``); ``write``: more of WriteToText's arguments."""

    def __init__(self, prefix: str, label: str, to_line: Callable[[Any], str], **write):
        super().__init__()
        self._prefix, self._label, self._to_line, self._write = prefix, label, to_line, write

    def expand(self, rows):
        return (rows
                | self._label >> beam.Map(self._to_line)
                | 'Write' >> beam.io.WriteToText(self._prefix, **self._write))


class WriteJsonLines(_WriteLines):
    """Dicts -> JSON Lines shards ``<prefix>-SSSSS-of-NNNNN.jsonl`` (one empty shard if none)."""

    def __init__(self, prefix: str, num_shards: int = 0):
        super().__init__(prefix, 'ToJson', to_json, file_name_suffix='.jsonl',
                         num_shards=num_shards)


class WriteCsv(_WriteLines):
    """Sequences of values -> CSV shards ``<prefix>-SSSSS-of-NNNNN.csv``, each with ``header``."""

    def __init__(self, prefix: str, header):
        super().__init__(prefix, 'ToCsvLine', csv_line, file_name_suffix='.csv',
                         header=csv_line(header))


def csv_line(values) -> str:
    """One RFC 4180 record (quoted where needed), without its line terminator.

    The writer quotes a field holding a line break only when the break is part of its
    lineterminator, so it keeps the default one ('\\r\\n'), which is cut off here."""
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue()[:-2]


class _TotalAs(beam.PTransform):
    """A PCollection -> one (name, total) pair, 0 when empty: ``total`` (a global combine,
    applied as ``label``) makes the total of all the elements."""

    def __init__(self, name: str, label: str, total: beam.PTransform):
        super().__init__()
        self._name, self._label, self._total = name, label, total

    def expand(self, pcoll):
        name = self._name
        return (pcoll
                | self._label >> self._total
                | 'Name' >> beam.Map(lambda n: (name, int(n))))


class CountAs(_TotalAs):
    """Any PCollection -> one (name, number of elements) pair; 0 when empty."""

    def __init__(self, name: str):
        super().__init__(name, 'Count', beam.combiners.Count.Globally())


class SumAs(_TotalAs):
    """Numbers -> one (name, sum) pair; 0 when empty."""

    def __init__(self, name: str):
        super().__init__(name, 'Sum', beam.CombineGlobally(sum))


def write_job_stats(counts, input_stats, stats_dir: str) -> None:
    """Writes a job's reconciliation counts and per-input digests into ``stats_dir``.

    ``counts`` is a list of PCollections of (name, number) pairs (from CountAs,
    SumAs or Count.PerElement); ``input_stats`` is ReadReviews' (path, digest) output.
    The launcher folds both into the manifest (``pipeline.launcher.read_stats``).
    """
    _ = (counts | 'FlattenCounts' >> beam.Flatten()
         | 'CountsToDict' >> beam.Map(lambda kv: {'name': kv[0], 'value': int(kv[1])})
         | 'WriteCounts' >> WriteJsonLines(os.path.join(stats_dir, 'counts'), num_shards=1))
    _ = (input_stats | 'InputsToDict' >> beam.Map(lambda kv: dict(kv[1], path=kv[0]))
         | 'WriteInputs' >> WriteJsonLines(os.path.join(stats_dir, 'inputs'), num_shards=1))
