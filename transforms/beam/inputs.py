"""Recognising input paths before a pipeline starts, so user mistakes fail early.

An input is a Kaggle-layout CSV file (or a glob of them) or an aclImdb split
folder (one holding ``pos/`` and ``neg/``, such as ``aclImdb/train``). A path that exists
is read as it is, whatever characters it holds (``rev[1].csv`` is that file); only a path
that does not exist is a glob pattern. Only the first line of each CSV file is read here;
the rows are read by the pipeline.
"""

import csv
import dataclasses
import os
import zlib
from typing import Iterator, List, Optional, Sequence, Tuple

from apache_beam.io.filesystems import FileSystems

from transforms import features, schema
from transforms.errors import InputError

CSV = 'csv'
ACLIMDB = 'aclimdb'
CSV_SUFFIXES = ('.csv', '.csv.gz')   # how a CSV input's file name ends


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """One input as the user named it, resolved to its format and files."""
    path: str
    format: str
    files: Tuple[str, ...]
    # For CSV: the header's column names, in order.
    columns: Tuple[str, ...] = ()
    # For aclImdb: the folder's name, which prefixes every id (train/pos/0_9.txt).
    name: str = ''
    # For aclImdb: (entry, reason) of what its pos/, neg/ (and unsup/) hold that is not a review.
    skipped: Tuple[Tuple[str, str], ...] = ()

    @property
    def labelled(self) -> bool:
        """Whether its records can carry a label: a label (sentiment) column, or pos/ and neg/."""
        return self.format == ACLIMDB or features.LABEL.csv in self.columns


def resolve_inputs(paths: Sequence[str], include_unlabeled: bool = False) -> List[InputSpec]:
    """Checks every path and returns what each one is; raises InputError otherwise."""
    if not paths:
        raise InputError('no --input given')
    specs = [_resolve(p, include_unlabeled) for p in paths]
    _check_unique_ids(specs)
    return specs


GLOB_CHARACTERS = '*?['


def input_exists(path: str) -> bool:
    """Whether an input path names something: a file or folder as named, or (holding glob
    characters) a pattern that matches a file."""
    if _is_dir(path) or _exists(path):
        return True
    return any(c in path for c in GLOB_CHARACTERS) and bool(_match(path))


def _resolve(path: str, include_unlabeled: bool) -> InputSpec:
    if _is_dir(path):
        return _resolve_aclimdb(path, include_unlabeled)
    if _exists(path):
        files = (path,)  # read as named, even if it holds glob characters
    elif os.path.islink(path):
        raise InputError(f'input not found: {path} (a link to something that does not exist)')
    elif any(c in path for c in GLOB_CHARACTERS):
        files = tuple(sorted(m.path for m in _match(path)))
    else:
        files = ()
    if not files:
        raise InputError(f'input not found: {path}')
    columns = None
    for f in files:
        header = read_csv_header(f)
        if columns is not None and header != columns:
            raise InputError(f'{f}: header {list(header)} differs from {list(columns)}')
        columns = header
    return InputSpec(path=path, format=CSV, files=files, columns=columns)


def _resolve_aclimdb(path: str, include_unlabeled: bool) -> InputSpec:
    dirs = list(schema.ACLIMDB_LABEL_DIRS)
    if include_unlabeled:
        dirs.append(schema.ACLIMDB_UNLABELED_DIR)
    files, skipped = [], []
    for d in dirs:
        if '://' in path:
            files.extend(m.path for m in _match(FileSystems.join(path, d, '*.txt')))
            continue
        found, passed_over = _review_files(os.path.join(path, d))
        files += found
        skipped += [(os.path.join(d, name), why) for name, why in passed_over]
    if not files:
        hint = ''
        if skipped:
            hint = f'; {len(skipped)} entries that are not reviews, e.g. {skipped[0][0]} ({skipped[0][1]})'
        if _is_dir(FileSystems.join(path, 'train')):
            hint = (f'; it looks like the aclImdb root: pass {FileSystems.join(path, "train")}'
                    f' or {FileSystems.join(path, "test")}')
        raise InputError(f'{path}: a folder, but no pos/*.txt or neg/*.txt in it{hint}')
    name = os.path.basename(path.rstrip('/'))
    return InputSpec(path=path, format=ACLIMDB, files=tuple(sorted(files)), name=name,
                     skipped=tuple(sorted(skipped)))


def _review_files(folder: str) -> Tuple[List[str], List[Tuple[str, str]]]:
    """(the review files of an aclImdb label folder, (name, reason) of every other entry).

    Listed literally (a folder named ``br[1]`` is that folder): a review is a regular file
    named ``*.txt``; anything else is skipped and said so, never silently."""
    if not os.path.isdir(folder):
        return [], []
    files, skipped = [], []
    for name in sorted(os.listdir(folder)):
        entry = os.path.join(folder, name)
        if os.path.islink(entry) and not os.path.exists(entry):
            skipped.append((name, 'a broken link'))
        elif os.path.isdir(entry):
            skipped.append((name, 'a folder'))
        elif not name.endswith('.txt'):
            skipped.append((name, 'not a .txt file'))
        elif not os.path.isfile(entry):
            skipped.append((name, 'not a regular file'))
        else:
            files.append(entry)
    return files, skipped


def lines(stream, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The lines of a binary stream, each with its b'\\n' (the last one maybe without).

    Only b'\\n' ends a line: U+0085, U+2028 or a lone CR inside a review never split it.
    Reads with ``read()`` alone, so plain and compressed (Beam's CompressedFile) files
    behave the same."""
    rest = b''
    while True:
        data = stream.read(chunk)
        if not data:
            break
        parts = (rest + data).split(b'\n')
        rest = parts.pop()
        for part in parts:
            yield part + b'\n'
    if rest:
        yield rest


def first_line(stream) -> bytes:
    """The first line of a binary stream (at most 1 MiB of it)."""
    return next(lines(_Limited(stream, 1 << 20)), b'')


class _Limited:
    def __init__(self, stream, limit: int):
        self._stream, self._left = stream, limit

    def read(self, size: int) -> bytes:
        data = self._stream.read(min(size, self._left)) if self._left > 0 else b''
        self._left -= len(data)
        return data


def read_csv_header(path: str) -> Tuple[str, ...]:
    """The column names of a Kaggle-layout CSV file; raises InputError if it has none."""
    try:
        with FileSystems.open(path) as f:
            first = first_line(f)
    except (OSError, EOFError, zlib.error) as e:  # e.g. a .gz file that is not gzip
        raise InputError(f'{path}: cannot be read: {e}') from None
    try:
        line = first.decode('utf-8-sig').strip()
        header = tuple(c.strip().lower() for c in next(csv.reader([line], strict=True)))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        header = ()
    for name in features.REQUIRED_CSV:
        if name not in header:
            raise InputError(
                f'{path}: not a review CSV: its first line must be a header with a '
                f'"{name}" column (Kaggle layout: {features.REVIEW.csv},{features.LABEL.csv}), '
                f'got {first[:80]!r}')
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise InputError(f'{path}: the header names {", ".join(repeated)} more than once, '
                         f'so which column holds it is ambiguous')
    unknown = set(header) - set(features.CSV_HEADER)
    if unknown:
        raise InputError(f'{path}: unexpected columns {sorted(unknown)} in header')
    return header


def _check_unique_ids(specs: Sequence[InputSpec]) -> None:
    """Ids are <file basename>:<row> and <folder name>/<path>: two inputs must not share them."""
    seen = {}
    for spec in specs:
        keys = [spec.name] if spec.format == ACLIMDB else [os.path.basename(f) for f in spec.files]
        for key in keys:
            if key in seen:
                raise InputError(
                    f'{spec.path} and {seen[key]} would give records the same ids '
                    f'(both named {key!r}); rename or copy one of them')
            seen[key] = spec.path


def _match(pattern: str):
    try:
        return FileSystems.match([pattern])[0].metadata_list
    except Exception:  # Beam raises BeamIOError for a pattern that matches nothing.
        return []


def _exists(path: str) -> bool:
    """The path exists as named (a file; folders are aclImdb inputs)."""
    if '://' not in path:
        return os.path.isfile(path)
    try:
        return FileSystems.exists(path)
    except Exception:  # noqa: BLE001 - an unreachable store: let the glob say "not found"
        return False


def _is_dir(path: str) -> bool:
    # Only local folders are recognised by isdir; remote folders by their pos/ files.
    if os.path.isdir(path):
        return True
    if '://' in path:
        return bool(_match(FileSystems.join(path, '*', '*.txt')))
    return False


def input_paths(specs: Sequence[InputSpec]) -> List[str]:
    """The paths a job reads for ``specs``, which --output must not touch: each input as
    given, and each file of a CSV input (an aclImdb folder holds its files)."""
    return [p for s in specs for p in (s.path, *(s.files if s.format == CSV else ()))]


def relative_id(spec: InputSpec, file_path: str) -> str:
    """The id of an aclImdb review: '<folder name>/<label dir>/<file>'."""
    parts = file_path.replace('\\', '/').rstrip('/').split('/')
    return '/'.join([spec.name] + parts[-2:])


def rating_from_name(file_path: str) -> Optional[int]:
    """aclImdb names files <review id>_<stars>.txt."""
    stem = os.path.splitext(os.path.basename(file_path))[0]
    _, _, stars = stem.rpartition('_')
    return int(stars) if stars.isdigit() else None
