"""Reading reviews in Beam: CSV rows and aclImdb files -> raw record dicts.

Readers never drop anything: a row that cannot be parsed becomes a record with
``parse_error`` set, and validation sends it to the dead-letter output.
"""

import base64
import csv
import hashlib
import io
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from transforms import features, local_copy, schema
from transforms.beam.inputs import ACLIMDB, CSV, InputSpec, lines, rating_from_name, \
    relative_id

INPUT_STATS_TAG = 'input_stats'
ROW_KEY = 'row'            # a record's number in its file (1-based, header excluded)
FILE_KEY = 'file_number'   # (input number, file number): where its file stands in the inputs


class FileStats(NamedTuple):
    """What reading one file found: its path, records, bytes and sha256 (of the content
    read: decompressed for a .gz file), and whether to list it in the manifest (CSV files;
    an aclImdb folder's thousands of files are summed)."""
    path: str
    rows: int
    bytes: int
    sha256: str
    listed: bool


# A review may be long (--max-review-chars), and csv's own field limit (128 KiB) would turn
# it into a parse error instead of review_too_long: validation owns the length rule.
csv.field_size_limit(2 ** 31 - 1)


def decode(data: bytes) -> Tuple[str, Optional[str]]:
    """(text, None), or for invalid UTF-8 (text with U+FFFD for the bad bytes, the detail)."""
    try:
        return data.decode('utf-8'), None
    except UnicodeDecodeError as e:
        return data.decode('utf-8', 'replace'), f'invalid UTF-8 at byte {e.start}'


def _undecodable(data: bytes, detail: str) -> Dict[str, object]:
    """The record of bytes that are not UTF-8: readable ``raw``, and the exact bytes in
    base64 (Beam's coders and JSON carry only valid Unicode)."""
    return {schema.RAW_KEY: data.decode('utf-8', 'replace'),
            schema.RAW_BASE64_KEY: base64.b64encode(data).decode('ascii'),
            schema.PARSE_ERROR_KEY: schema.REASON_UNDECODABLE, schema.DETAIL_KEY: detail}


def parse_csv_line(line: bytes, columns: Sequence[str]) -> Dict[str, object]:
    """One CSV record (a line, or several when a quoted field holds newlines), of the header
    names ``columns`` -> {raw, the declared columns by name (features.CSV_COLUMNS), or
    parse_error and detail}."""
    raw = line[:-1] if line.endswith(b'\n') else line
    raw = raw[:-1] if raw.endswith(b'\r') else raw
    text, problem = decode(raw)
    if problem:
        return _undecodable(raw, problem)
    record = {schema.RAW_KEY: text}
    try:
        fields = next(csv.reader([text], strict=True), [])
    except csv.Error as e:
        record.update({schema.PARSE_ERROR_KEY: schema.REASON_MALFORMED,
                       schema.DETAIL_KEY: f'bad quoting: {e}'})
        return record
    if len(fields) != len(columns):
        record.update({schema.PARSE_ERROR_KEY: schema.REASON_MALFORMED,
                       schema.DETAIL_KEY: f'{len(fields)} fields, header has {len(columns)}'})
        return record
    row = dict(zip(columns, fields))
    # Every column the data declares, None where the file has none; an empty id is
    # replaced by the reader's (a given one is kept, e.g. in preprocess's eval split).
    record.update((c.name, row.get(c.csv)) for c in features.CSV_COLUMNS)
    return record


class CsvRecord(NamedTuple):
    """One RFC 4180 record: its bytes, first line (1-based, the header is line 1), number of
    lines, total size, whether it ended before the end of the file with its quotes closed,
    and the bytes of the blank lines skipped just before it (see ``csv_records``)."""
    data: bytes
    line: int
    num_lines: int
    size: int
    complete: bool
    blank_before: int = 0


def is_blank(line: bytes) -> bool:
    """A line that is empty or holds only whitespace: between records it holds no record."""
    return not line.strip()


def csv_records(stream_lines: Iterator[bytes], first_line: int = 2,
                max_bytes: int = 1 << 30) -> Iterator[CsvRecord]:
    """Groups lines into records: a newline inside a quoted field belongs to the field.

    A record is complete when its double quotes are balanced (an escaped quote is two).
    An opening quote that never closes makes the rest of the file one incomplete record,
    so no fragment of it is ever taken for a record of its own. Past ``max_bytes`` a
    record's bytes are no longer kept (its size and lines still count).

    A blank line (``is_blank``) between records is no record: it is skipped, and neither
    numbered nor a dead letter (record numbers count records; line numbers still count every
    line). Inside a quoted field a blank line is part of the review.
    """
    parts, quotes, size, start, count, blank = [], 0, 0, first_line, 0, 0
    line_no = first_line
    for line in stream_lines:
        if not count and is_blank(line):
            line_no += 1
            blank += len(line)
            continue
        if not count:
            start, quotes, size, parts = line_no, 0, 0, []
        count += 1
        line_no += 1
        quotes += line.count(b'"')
        size += len(line)
        if size <= max_bytes:
            parts.append(line)
        if quotes % 2 == 0:
            yield CsvRecord(b''.join(parts), start, count, size, True, blank)
            count, blank = 0, 0
    if count:
        yield CsvRecord(b''.join(parts), start, count, size, False, blank)


def record_from_csv(rec: CsvRecord, columns: Sequence[str]) -> Dict[str, object]:
    """A CsvRecord -> a raw record dict (see parse_csv_line), with the broken cases named.

    A record too big to keep whole names its lines and size in the detail; the rest of
    it stays in the input file, where those locate it."""
    kept = '' if rec.size == len(rec.data) else f'; raw holds its first {len(rec.data)} bytes'
    if not rec.complete:
        reason, detail = schema.REASON_MALFORMED, (
            f'a quote opened on line {rec.line} never closes: the {rec.num_lines} lines '
            f'({rec.size} bytes) to the end of the file are one broken record{kept}')
    elif kept:
        reason, detail = schema.REASON_TOO_LONG, (
            f'{rec.size} bytes over {rec.num_lines} lines from line {rec.line}{kept}')
    else:
        return parse_csv_line(rec.data, columns)
    return {schema.RAW_KEY: decode(rec.data)[0], schema.PARSE_ERROR_KEY: reason,
            schema.DETAIL_KEY: detail}


class _ListFiles(beam.DoFn):
    """(input number, InputSpec) -> (spec, file path, (input number, file number)) for each of
    its files: the order the user named them in, whichever worker reads them."""

    def process(self, numbered) -> Iterator:
        number, spec = numbered
        for i, path in enumerate(spec.files):
            yield spec, path, (number, i)


# Records per chunk of a CSV file: the unit a file is spread over the workers in. A
# runner may run all of a partition's elements as one bundle (Flink's batch mode does),
# and Beam's portable runners take a bundle's output in only when it ends, so one file
# read whole by one worker must not be one bundle: see pipeline/cluster/README.md.
CHUNK_RECORDS = 1024
# A chunk of at most this many bytes is read into memory in one request (on gs://).
RANGED_READ_MAX = 64 << 20


class Chunk(NamedTuple):
    """Records of one file to read: from byte ``offset`` (of the file as stored), record
    ``first_row`` (1-based, the header excluded) on line ``first_line`` (the header is line
    1), ``rows`` of them, ending before byte ``end``; ``rows`` None: the whole file, from
    its start."""
    spec: InputSpec
    path: str
    file_number: Tuple[int, int]
    offset: int = 0
    first_row: int = 1
    first_line: int = 2
    rows: Optional[int] = None
    end: Optional[int] = None


def _compressed(path: str) -> bool:
    return CompressionTypes.detect_compression_type(path) != CompressionTypes.UNCOMPRESSED


class _PlanChunks(beam.DoFn):
    """(spec, file path, file number) -> Chunks, plus one (input path, FileStats) per plain
    CSV file.

    A plain CSV file is scanned once (its sha256, size and record boundaries, by the same
    RFC 4180 grouping the reader uses) and cut every ``chunk_records`` records. A compressed
    one cannot be entered in the middle, and an aclImdb file is one review: each is one
    whole chunk, whose reader gives its stats."""

    def __init__(self, chunk_records: int = CHUNK_RECORDS):
        self._chunk_records = chunk_records

    def process(self, element) -> Iterator:
        spec, path, file_number = element
        if spec.format == ACLIMDB or _compressed(path):
            yield Chunk(spec, path, file_number)
            return
        digest = hashlib.sha256()
        rows, size, chunk = 0, [0], None
        with FileSystems.open(path) as f:
            hashed = _hashed_lines(lines(f), digest, size)
            offset = len(next(hashed, b''))  # the header, checked by resolve_inputs
            for rec in csv_records(hashed, max_bytes=0):
                offset += rec.blank_before  # a chunk starts at its first record
                if rows % self._chunk_records == 0:
                    if chunk:
                        yield chunk._replace(end=offset)
                    chunk = Chunk(spec, path, file_number, offset, rows + 1, rec.line,
                                  self._chunk_records)
                rows += 1
                offset += rec.size
        if chunk:
            yield chunk._replace(end=offset)
        yield beam.pvalue.TaggedOutput(INPUT_STATS_TAG, (spec.path, FileStats(
            path, rows, size[0], digest.hexdigest(), True)))


class _ReadChunk(beam.DoFn):
    """Chunk -> raw records, plus one (input path, FileStats) for a whole-file chunk.

    A CSV file is read record by record (RFC 4180, so reviews may hold newlines); a
    record's id is ``<file name>:<record number>`` unless an ``id`` column gives one (ids
    are checked unique across every input by ``unique_ids.FindRepeats``). Every record
    carries its record number (``row``) and source file."""

    def __init__(self, max_record_bytes: int, counted: bool = True):
        self._max_record_bytes = max_record_bytes
        self._counted = counted
        self._read = Metrics.counter('read', 'records')

    def _open(self, chunk: Chunk):
        """The chunk's file, at the chunk's first byte. A chunk of CSV records is read in one
        go, exactly its bytes (one ranged download on gs://); a chunk past
        ``RANGED_READ_MAX`` (a huge record), a whole file or a compressed one streams."""
        if chunk.end is not None and chunk.end - chunk.offset <= RANGED_READ_MAX:
            return io.BytesIO(local_copy.read_range(chunk.path, chunk.offset, chunk.end))
        f = FileSystems.open(chunk.path)
        if chunk.rows is not None:
            f.seek(chunk.offset)
        return f

    def process(self, chunk: Chunk) -> Iterator:
        spec, path = chunk.spec, chunk.path
        whole = chunk.rows is None  # an aclImdb file or a compressed CSV: stats given here
        digest, size, rows = hashlib.sha256(), [0], 0
        with self._open(chunk) as f:
            if spec.format == ACLIMDB:
                data = f.read()
                digest.update(data)
                rows, size[0] = 1, len(data)
                yield dict(_acl_record(spec, path, data),
                           **{ROW_KEY: 1, FILE_KEY: chunk.file_number})
            else:
                if whole:
                    stream = _hashed_lines(lines(f), digest, size)
                    next(stream, None)  # the header, checked by resolve_inputs
                else:
                    stream = lines(f)
                records = csv_records(stream, first_line=chunk.first_line,
                                      max_bytes=self._max_record_bytes)
                for rec in records:
                    row = chunk.first_row + rows
                    rows += 1
                    record = record_from_csv(rec, spec.columns)
                    if not record.get(schema.ID_KEY) or record.get(schema.PARSE_ERROR_KEY):
                        record[schema.ID_KEY] = f'{_basename(path)}:{row}'
                    record[schema.SOURCE_KEY] = path
                    record[ROW_KEY] = row
                    record[FILE_KEY] = chunk.file_number
                    yield record
                    if rows == chunk.rows:
                        break
        if self._counted:
            self._read.inc(rows)
        if whole:
            yield beam.pvalue.TaggedOutput(INPUT_STATS_TAG, (spec.path, FileStats(
                path, rows, size[0], digest.hexdigest(), spec.format == CSV)))


def _hashed_lines(stream_lines: Iterator[bytes], digest, size: List[int]) -> Iterator[bytes]:
    for line in stream_lines:
        digest.update(line)
        size[0] += len(line)
        yield line


def _acl_record(spec: InputSpec, path: str, data: bytes) -> Dict[str, object]:
    folder = path.replace('\\', '/').split('/')[-2]
    record = {schema.ID_KEY: relative_id(spec, path),
              schema.SOURCE_KEY: path,
              schema.LABEL_KEY: schema.ACLIMDB_LABEL_DIRS.get(folder),
              schema.RATING_KEY: rating_from_name(path)}
    text, problem = decode(data)
    if problem:
        record.update(_undecodable(data, problem))
    else:
        record[schema.RAW_KEY] = record[schema.REVIEW_KEY] = text
    return record


def _basename(path: str) -> str:
    return path.replace('\\', '/').rstrip('/').split('/')[-1]


class InputDigest(beam.CombineFn):
    """Per input: files, rows, bytes, a content hash independent of reading order, and the
    files it read (CSV inputs), each with its rows, bytes and sha256.

    A single file's hash is its plain sha256 (what ``sha256sum`` prints; of the
    decompressed content for a .gz file); several files combine as the sum mod 2**256 of
    sha256('<file>:<sha256>').
    """

    def create_accumulator(self):
        return 0, 0, 0, 0, '', []

    def add_input(self, acc, stats: FileStats):
        files, rows, size, total, single, listed = acc
        item = int(hashlib.sha256(f'{_basename(stats.path)}:{stats.sha256}'.encode()).hexdigest(),
                   16)
        if stats.listed:
            listed = listed + [{'path': stats.path, 'rows': stats.rows, 'bytes': stats.bytes,
                                'sha256': stats.sha256}]
        return (files + 1, rows + stats.rows, size + stats.bytes, (total + item) % (1 << 256),
                stats.sha256, listed)

    def merge_accumulators(self, accs):
        accs = list(accs)
        return (sum(a[0] for a in accs), sum(a[1] for a in accs), sum(a[2] for a in accs),
                sum(a[3] for a in accs) % (1 << 256), next((a[4] for a in accs if a[4]), ''),
                [f for a in accs for f in a[5]])

    def extract_output(self, acc):
        files, rows, size, total, single, listed = acc
        found = {'files': files, 'rows': rows, 'bytes': size,
                 'sha256': single if files == 1 else f'{total:064x}'}
        if listed:
            found['read'] = sorted(listed, key=lambda f: f['path'])
        return found


class _SpreadChunks(beam.PTransform):
    """Chunks -> the same chunks, spread over the workers by a group by key on their place.

    Not ``beam.Reshuffle``: Flink's batch translation makes it a rebalance, and Flink
    drops a rebalance of data that an earlier one (here ShuffleFiles) already rebalanced,
    leaving every chunk of a file with the worker that planned it."""

    def expand(self, chunks):
        return (chunks
                | 'KeyByPlace' >> beam.Map(lambda c: ((*c.file_number, c.first_row), c))
                | 'Group' >> beam.GroupByKey()
                | 'Ungroup' >> beam.FlatMap(lambda kv: kv[1]))


class ReadReviews(beam.PTransform):
    """PBegin -> {'records': raw record dicts, 'input_stats': (input path, digest dict)}.

    Files are listed on the workers and reshuffled, a CSV file is cut into chunks of
    ``chunk_records`` records and the chunks are reshuffled, so many files, and the parts of
    one big file, are read in parallel; each chunk's records stream through the stages fused
    after the read. ``reshuffle_records`` also spreads the records themselves over the
    workers, but every shuffle boundary makes the DirectRunner hold the whole collection in
    memory.
    """

    def __init__(self, specs: List[InputSpec], reshuffle_records: bool = False,
                 max_review_chars: int = schema.DEFAULT_MAX_REVIEW_CHARS, counted: bool = True,
                 chunk_records: int = CHUNK_RECORDS):
        super().__init__()
        self._specs = specs
        self._reshuffle_records = reshuffle_records
        self._counted = counted  # a second read (of the ids) does not count as read
        self._chunk_records = chunk_records
        # UTF-8 takes at most 4 bytes a character; the rest is room for the other fields.
        self._max_record_bytes = 4 * max_review_chars + (1 << 16)

    def expand(self, pbegin):
        planned = (pbegin
                   | 'Inputs' >> beam.Create(list(enumerate(self._specs)))
                   | 'ListFiles' >> beam.ParDo(_ListFiles())
                   | 'ShuffleFiles' >> beam.Reshuffle()
                   | 'PlanChunks' >> beam.ParDo(_PlanChunks(self._chunk_records)).with_outputs(
                       INPUT_STATS_TAG, main='chunks'))
        read = (planned.chunks
                | 'SpreadChunks' >> _SpreadChunks()
                | 'ReadFiles' >> beam.ParDo(_ReadChunk(self._max_record_bytes, self._counted))
                .with_outputs(INPUT_STATS_TAG, main='records'))
        records = read.records
        if self._reshuffle_records:
            records = records | 'ShuffleRecords' >> beam.Reshuffle()
        stats = ((planned[INPUT_STATS_TAG], read[INPUT_STATS_TAG])
                 | 'AllFileStats' >> beam.Flatten())
        return {
            'records': records,
            'input_stats': stats | 'DigestInputs' >> beam.CombinePerKey(InputDigest()),
        }
