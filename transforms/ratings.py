"""Star ratings from a side file, for reviews whose file names do not carry them.

aclImdb names each review file ``<id>_<stars>.txt``; a Kaggle-layout CSV has no
rating column, but the shared ``train_movies.csv`` (``row,movie,rating``) gives
one per data row. The score job reads such a file as a side input and attaches
the rating to each review it knows, so the error-by-star-rating slice covers
CSV inputs too.
"""

import io
from typing import Dict, List, Optional, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from transforms import features
from transforms.split import ReadSideFile, SideFileFormatError, parse_side_line, read_header, \
    side_file_layout

# The two layouts a ratings file may have (header columns); the rating is the last.
RATINGS_BY_ID = (features.ID_KEY, features.RATING_KEY)
RATINGS_BY_ROW = (features.ROW_KEY, features.MOVIE_KEY, features.RATING_KEY)
MIN_STARS, MAX_STARS = 1, 10


def ratings_layout(header: List[str], ratings_for: Optional[str]) -> Tuple[str, ...]:
    """Checks a ratings file's header columns; returns RATINGS_BY_ID or RATINGS_BY_ROW."""
    return side_file_layout(header, RATINGS_BY_ID, RATINGS_BY_ROW, ratings_for, 'ratings',
                            '--ratings-for')


def parse_stars(text: str) -> int:
    """'7' -> 7; anything but a whole number of stars from 1 to 10 is a ValueError."""
    try:
        stars = int(text)
    except ValueError:
        stars = None
    if stars is None or not MIN_STARS <= stars <= MAX_STARS:
        raise ValueError(f'rating {text!r} is not a whole number from {MIN_STARS} to {MAX_STARS}')
    return stars


def check_ratings_file(path: str, ratings_for: Optional[str]) -> int:
    """Reads the whole file before the job starts; returns how many ratings it gives.

    Raises SideFileFormatError naming the first bad line. A side input is held in
    memory by every worker anyway, so reading it once more here is cheap.
    """
    layout = ratings_layout(read_header(path), ratings_for)
    count = 0
    with FileSystems.open(path) as f:
        lines = io.TextIOWrapper(f, encoding='utf-8-sig')
        next(lines, None)  # the header
        for number, line in enumerate(lines, start=2):
            try:
                for _, value in parse_side_line(line, layout, ratings_for):
                    parse_stars(value)
                    count += 1
            except ValueError as e:
                raise SideFileFormatError(f'line {number}: {e}') from None
    return count


def _stars(key: str, value: str) -> Tuple[str, int]:
    return key, parse_stars(value)


class ReadRatings(beam.PTransform):
    """A ratings CSV file -> (record id, stars) pairs.

    Layouts: header ``id,rating`` (ids as the readers give them, e.g. ``train.csv:7``),
    or the shared ``row,movie,rating`` file with ``ratings_for`` naming the CSV
    whose 1-based data rows it numbers (ids ``<ratings_for>:<row>``).
    """

    def __init__(self, path: str, ratings_for: Optional[str] = None):
        super().__init__()
        self._path = path
        self._ratings_for = ratings_for
        self._layout = ratings_layout(read_header(path), ratings_for)

    def expand(self, pbegin):
        return (pbegin
                | 'Read' >> ReadSideFile(self._path, self._layout, self._ratings_for)
                | 'ToStars' >> beam.MapTuple(_stars))


def with_rating(record: Dict, ratings: Dict[str, int]) -> Dict:
    """The record with the file's rating when it has none of its own (a copy; the
    input element is never changed)."""
    if record.get(features.RATING_KEY) is not None:
        return record
    stars = ratings.get(record[features.ID_KEY])
    if stars is None:
        return record
    beam.metrics.Metrics.counter('ratings', 'from_file').inc()
    return dict(record, **{features.RATING_KEY: stars})


class AttachRatings(beam.PTransform):
    """Validated record dicts -> the same records, each unrated one that ``ratings``
    (a PCollection of (record id, stars), passed to every worker as a side input)
    knows now carrying its rating. Records keep a rating they already have."""

    def __init__(self, ratings: beam.PCollection):
        super().__init__()
        self._ratings = ratings

    def expand(self, records):
        return records | 'WithRating' >> beam.Map(with_rating, beam.pvalue.AsDict(self._ratings))
