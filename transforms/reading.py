"""Reading reviews in Beam: CSV rows and aclImdb files -> raw record dicts.

Readers never drop anything: a row that cannot be parsed becomes a record with
``parse_error`` set, and validation sends it to the dead-letter output.
"""

import csv
import hashlib
import io
from typing import Dict, Iterator, List, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from transforms import features
from transforms.inputs import ACLIMDB, CSV_LABEL_COLUMN, InputSpec, rating_from_name, relative_id

INPUT_STATS_TAG = 'input_stats'


def parse_csv_line(line: bytes, columns: Sequence[str]) -> Dict[str, object]:
    """One physical CSV line -> {review, label, raw, parse_error}.

    The data contract has no newline inside a field, so a record is one line;
    parsing line by line keeps a broken quote from swallowing the rest of the file.
    """
    raw = line.rstrip(b'\r\n')
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as e:
        return {features.RAW_KEY: raw.decode('utf-8', 'replace'),
                features.PARSE_ERROR_KEY: features.REASON_UNDECODABLE,
                features.DETAIL_KEY: f'invalid UTF-8 at byte {e.start}'}
    record = {features.RAW_KEY: text}
    try:
        fields = next(csv.reader([text], strict=True), [])
    except csv.Error as e:
        record.update({features.PARSE_ERROR_KEY: features.REASON_MALFORMED,
                       features.DETAIL_KEY: f'bad quoting: {e}'})
        return record
    if len(fields) != len(columns):
        record.update({features.PARSE_ERROR_KEY: features.REASON_MALFORMED,
                       features.DETAIL_KEY: f'{len(fields)} fields, header has {len(columns)}'})
        return record
    row = dict(zip(columns, fields))
    record[features.REVIEW_KEY] = row[features.REVIEW_KEY]
    record[features.LABEL_KEY] = row.get(CSV_LABEL_COLUMN)
    if row.get(features.ID_KEY):
        record[features.ID_KEY] = row[features.ID_KEY]  # kept ids, e.g. preprocess's eval split
    return record


class _ListFiles(beam.DoFn):
    """InputSpec -> (spec, file path) for each of its files."""

    def process(self, spec: InputSpec) -> Iterator:
        for path in spec.files:
            yield spec, path


class _ReadFile(beam.DoFn):
    """(spec, file path) -> raw records, plus one (input path, file stats) per file."""

    def __init__(self):
        self._read = Metrics.counter('read', 'records')

    def process(self, element) -> Iterator:
        spec, path = element
        digest = hashlib.sha256()
        rows = 0
        with FileSystems.open(path) as f:
            if spec.format == ACLIMDB:
                data = f.read()
                digest.update(data)
                rows = 1
                yield _acl_record(spec, path, data)
            else:
                stream = io.BufferedReader(f) if not hasattr(f, 'readline') else f
                header = stream.readline()
                digest.update(header)
                for line in stream:
                    digest.update(line)
                    rows += 1
                    record = parse_csv_line(line, spec.columns)
                    record.setdefault(features.ID_KEY, f'{_basename(path)}:{rows}')
                    record[features.SOURCE_KEY] = path
                    yield record
        self._read.inc(rows)
        yield beam.pvalue.TaggedOutput(
            INPUT_STATS_TAG, (spec.path, (path, rows, digest.hexdigest())))


def _acl_record(spec: InputSpec, path: str, data: bytes) -> Dict[str, object]:
    folder = path.replace('\\', '/').split('/')[-2]
    record = {features.ID_KEY: relative_id(spec, path),
              features.SOURCE_KEY: path,
              features.LABEL_KEY: features.ACLIMDB_LABEL_DIRS.get(folder),
              features.RATING_KEY: rating_from_name(path)}
    try:
        record[features.REVIEW_KEY] = data.decode('utf-8')
        record[features.RAW_KEY] = record[features.REVIEW_KEY]
    except UnicodeDecodeError as e:
        record[features.RAW_KEY] = data.decode('utf-8', 'replace')
        record[features.PARSE_ERROR_KEY] = features.REASON_UNDECODABLE
        record[features.DETAIL_KEY] = f'invalid UTF-8 at byte {e.start}'
    return record


def _basename(path: str) -> str:
    return path.replace('\\', '/').rstrip('/').split('/')[-1]


class InputDigest(beam.CombineFn):
    """Per input: files, rows, and a content hash independent of reading order.

    A single file's hash is its plain sha256 (what ``sha256sum`` prints); several
    files combine as the sum mod 2**256 of sha256('<file>:<sha256>').
    """

    def create_accumulator(self):
        return 0, 0, 0, ''

    def add_input(self, acc, element):
        files, rows, total, single = acc
        path, n, sha = element
        item = int(hashlib.sha256(f'{_basename(path)}:{sha}'.encode()).hexdigest(), 16)
        return files + 1, rows + n, (total + item) % (1 << 256), sha

    def merge_accumulators(self, accs):
        accs = list(accs)
        return (sum(a[0] for a in accs), sum(a[1] for a in accs),
                sum(a[2] for a in accs) % (1 << 256), next((a[3] for a in accs if a[3]), ''))

    def extract_output(self, acc):
        files, rows, total, single = acc
        return {'files': files, 'rows': rows,
                'sha256': single if files == 1 else f'{total:064x}'}


class ReadReviews(beam.PTransform):
    """PBegin -> {'records': raw record dicts, 'input_stats': (input path, digest dict)}.

    Files are listed on the workers and reshuffled, so many files are read in
    parallel, and each file's records stream through the stages fused after the
    read. ``reshuffle_records`` also spreads the records of one file over the
    workers: it helps a few big files on a cluster, but every shuffle boundary
    makes the DirectRunner hold the whole collection in memory.
    """

    def __init__(self, specs: List[InputSpec], reshuffle_records: bool = False):
        super().__init__()
        self._specs = specs
        self._reshuffle_records = reshuffle_records

    def expand(self, pbegin):
        read = (pbegin
                | 'Inputs' >> beam.Create(self._specs)
                | 'ListFiles' >> beam.ParDo(_ListFiles())
                | 'ShuffleFiles' >> beam.Reshuffle()
                | 'ReadFiles' >> beam.ParDo(_ReadFile()).with_outputs(
                    INPUT_STATS_TAG, main='records'))
        records = read.records
        if self._reshuffle_records:
            records = records | 'ShuffleRecords' >> beam.Reshuffle()
        return {
            'records': records,
            'input_stats': read[INPUT_STATS_TAG] | 'DigestInputs' >> beam.CombinePerKey(InputDigest()),
        }
