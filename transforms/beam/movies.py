"""The movies side file: each review's movie (to split by) and star rating (to slice errors by).

A Kaggle-layout CSV has neither; the shared ``train_movies.csv`` gives both per data row
(``row,movie,rating``). One file, read by one reader, serves preprocess (``--movies``: all the
reviews of a movie land in one split) and score (``--movies``: the error-by-rating slice).

Layouts, by header: the key column first, ``id`` (record ids as the readers give them, e.g.
``train.csv:7``) or ``row`` (the 1-based data row of the CSV file that ``--movies-for`` names,
so ids ``<name>:<row>``); then any of ``movie`` (or ``group``) and ``rating`` (whole stars from
1 to 10). Other columns are ignored. aclImdb reviews keep the rating in their file name.
"""

import csv
import io
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from transforms import schema
from transforms.errors import InputError

ROW_KEY = 'row'
MOVIE_COLUMNS = ('movie', 'group')   # either names the group a review belongs to
RATING_COLUMN = schema.RATING_KEY
MIN_STARS, MAX_STARS = 1, 10


class MoviesFormatError(ValueError):
    """A movies file whose header has no key or no value column, a row layout without the
    name of the file it numbers, or a data line that cannot be read."""


class Layout(NamedTuple):
    """Where a movies file keeps what: column indexes (None: the file has no such column)."""
    by_row: bool
    movie: Optional[int]
    rating: Optional[int]


class Movie(NamedTuple):
    """What the file says of one review."""
    group: Optional[str]
    rating: Optional[int]


def layout(header: List[str], rows_of: Optional[str]) -> Layout:
    """Checks a movies file's header; raises MoviesFormatError when it cannot be used."""
    columns = [c.strip().lower() for c in header]
    if not columns or columns[0] not in (schema.ID_KEY, ROW_KEY):
        raise MoviesFormatError(
            f'movies file header must start with {schema.ID_KEY} or {ROW_KEY} and name a '
            f'movie (or group) and/or a rating column, e.g. row,movie,rating; '
            f'got {",".join(columns) or "nothing"}')
    movie = next((columns.index(c) for c in MOVIE_COLUMNS if c in columns), None)
    rating = columns.index(RATING_COLUMN) if RATING_COLUMN in columns else None
    if movie is None and rating is None:
        raise MoviesFormatError(f'movies file header {",".join(columns)} names neither a '
                                'movie (or group) nor a rating column')
    by_row = columns[0] == ROW_KEY
    if by_row and not rows_of:
        raise MoviesFormatError(f'a {",".join(columns)} movies file needs --movies-for: the '
                                'name of the CSV file whose rows it numbers (e.g. train.csv)')
    return Layout(by_row, movie, rating)


def read_header(path: str) -> List[str]:
    """The first line of a CSV file, split into columns (a UTF-8 BOM is dropped)."""
    with FileSystems.open(path) as f:
        first = f.readline().decode('utf-8-sig')
    return next(csv.reader([first]), [])


def parse_stars(text: str) -> int:
    """'7' -> 7; anything but a whole number of stars from 1 to 10 is a ValueError."""
    try:
        stars = int(text)
    except ValueError:
        stars = None
    if stars is None or not MIN_STARS <= stars <= MAX_STARS:
        raise ValueError(f'rating {text!r} is not a whole number from {MIN_STARS} to {MAX_STARS}')
    return stars


def parse_line(line: str, found: Layout, rows_of: Optional[str]) -> Iterator[Tuple[str, Movie]]:
    """One data line -> (record id, Movie); nothing for a blank line or one with no value.

    A row number that is not a whole number, or a rating that is not 1-10 stars, is a
    ValueError."""
    fields = next(csv.reader([line]), [])

    def field(index: Optional[int]) -> Optional[str]:
        value = fields[index].strip() if index is not None and index < len(fields) else ''
        return value or None

    key = field(0)
    group, stars = field(found.movie), field(found.rating)
    if key is None or (group is None and stars is None):
        return
    if found.by_row:
        try:
            key = f'{rows_of}:{int(key)}'
        except ValueError:
            raise ValueError(f'row {key!r} is not a whole number') from None
    yield key, Movie(group, parse_stars(stars) if stars is not None else None)


def check_movies_file(path: str, rows_of: Optional[str]) -> Tuple[Layout, int]:
    """Reads the whole file before a job starts: (its layout, how many reviews it names).

    Raises MoviesFormatError naming the first bad line. Every worker holds the file in
    memory as a side input anyway, so reading it once more here is cheap."""
    found = layout(read_header(path), rows_of)
    count = 0
    with FileSystems.open(path) as f:
        lines = io.TextIOWrapper(f, encoding='utf-8-sig', newline='')
        next(lines, None)  # the header
        for number, line in enumerate(lines, start=2):
            try:
                count += sum(1 for _ in parse_line(line, found, rows_of))
            except ValueError as e:
                raise MoviesFormatError(f'line {number}: {e}') from None
    return found, count


def check_movies(path: str, rows_of: Optional[str]) -> Tuple[Layout, int]:
    """``check_movies_file``, with every problem a usage error (exit 2) that names --movies."""
    if not FileSystems.exists(path):
        raise InputError(f'--movies {path}: no such file')
    try:
        return check_movies_file(path, rows_of)
    except (MoviesFormatError, UnicodeDecodeError) as e:
        raise InputError(f'--movies {path}: {e}') from None


class ReadMovies(beam.PTransform):
    """A movies file -> (record id, Movie) pairs, for a side input (see the module doc)."""

    def __init__(self, path: str, rows_of: Optional[str] = None):
        super().__init__()
        self._path = path
        self._rows_of = rows_of
        self._layout = layout(read_header(path), rows_of)

    def expand(self, pbegin):
        return (pbegin
                | 'ReadLines' >> beam.io.ReadFromText(self._path, skip_header_lines=1)
                | 'Parse' >> beam.FlatMap(parse_line, self._layout, self._rows_of))


def groups(movies: beam.PCollection) -> beam.PCollection:
    """(record id, Movie) -> (record id, group) for the reviews whose movie is known."""
    return movies | 'Groups' >> beam.FlatMap(
        lambda kv: [(kv[0], kv[1].group)] if kv[1].group else [])


def ratings(movies: beam.PCollection) -> beam.PCollection:
    """(record id, Movie) -> (record id, stars) for the reviews whose rating is known."""
    return movies | 'Ratings' >> beam.FlatMap(
        lambda kv: [(kv[0], kv[1].rating)] if kv[1].rating is not None else [])


def with_rating(record: Dict, stars_by_id: Dict[str, int]) -> Dict:
    """The record with the file's rating when it has none of its own (a copy; the input
    element is never changed)."""
    if record.get(schema.RATING_KEY) is not None:
        return record
    stars = stars_by_id.get(record[schema.ID_KEY])
    if stars is None:
        return record
    beam.metrics.Metrics.counter('ratings', 'from_file').inc()
    return dict(record, **{schema.RATING_KEY: stars})


class AttachRatings(beam.PTransform):
    """Validated record dicts -> the same records, each unrated one that ``stars`` (a
    PCollection of (record id, stars), passed to every worker as a side input) knows now
    carrying its rating. Records keep a rating they already have."""

    def __init__(self, stars: beam.PCollection):
        super().__init__()
        self._stars = stars

    def expand(self, records):
        return records | 'WithRating' >> beam.Map(with_rating, beam.pvalue.AsDict(self._stars))
