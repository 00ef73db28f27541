"""The data's columns, each declared once: its name, type, role and CSV header name.

As the TFX taxi template's ``features.py`` is read by its transform and trainer, this module
is read by every stage that knows a column: the CSV header check
(``transforms.beam.inputs``), the reader (``transforms.beam.read``), validation
(``transforms.beam.validate``), the tf.Transform raw feature spec and the examples it reads
(``transforms.tft.preprocessing``, ``pipeline.jobs.preprocess``), the trainer's input
(``trainer.data``), the export's signature (``trainer.export``) and the prediction rows
(``transforms.beam.scoring``). Adding a column to the data is declaring a ``Column`` and
naming it in ``COLUMNS``; its role says where it goes:

- ``Role.ID``: names the record. A CSV file may give it; otherwise the reader makes one.
  Transformed examples and prediction rows carry it.
- ``Role.TEXT``: what the model reads, raw: tf.Transform cleans and tokenizes it, and the
  exported model takes it. Validation refuses it empty or too long.
- ``Role.LABEL``: what the model learns. Validation names it (``schema.LABEL_VALUES``);
  tf.Transform reads its integer code (``schema.LABEL_TO_INT``).
- ``Role.PASS_THROUGH``: carried beside the prediction, never fed to the model. Validation
  checks it has its type.

Importing it loads neither TensorFlow nor Beam: the launcher and the readers import it too.
"""

import dataclasses
import enum
from typing import Dict, Optional, Sequence, Tuple


class Role(enum.Enum):
    """What a column is for (see the module docstring)."""
    ID = 'id'
    TEXT = 'text'
    LABEL = 'label'
    PASS_THROUGH = 'pass-through'


STRING = 'string'   # str in a record, tf.string in a raw example
INT64 = 'int64'     # int in a record, tf.int64 in a raw example
PYTHON_TYPES = {STRING: str, INT64: int}


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of the data."""
    name: str                    # its key in records, examples and prediction rows
    dtype: str                   # STRING or INT64 (the label: of its code in a raw example)
    role: Role
    csv: Optional[str] = None    # its name in a CSV header; None: never read from a CSV
    required: bool = False       # a CSV file without it is not a review CSV


ID = Column('id', STRING, Role.ID, csv='id')
REVIEW = Column('review', STRING, Role.TEXT, csv='review', required=True)
# The Kaggle layout calls the label column "sentiment".
LABEL = Column('label', INT64, Role.LABEL, csv='sentiment')
# A review's stars: from an aclImdb file's name, or a --movies file (transforms.beam.movies).
RATING = Column('rating', INT64, Role.PASS_THROUGH)
# A review's title: some CSV files have the column, others do not.
TITLE = Column('title', STRING, Role.PASS_THROUGH, csv='title')

# Every column, in the order records, CSV files and prediction rows list them.
COLUMNS: Tuple[Column, ...] = (ID, REVIEW, LABEL, RATING, TITLE)

ID_KEY = ID.name
REVIEW_KEY = REVIEW.name
LABEL_KEY = LABEL.name
RATING_KEY = RATING.name


def _of(*roles: Role) -> Tuple[Column, ...]:
    return tuple(c for c in COLUMNS if c.role in roles)


# What a CSV file may hold, in the order the jobs write them (the eval split's reviews).
CSV_COLUMNS = tuple(c for c in COLUMNS if c.csv)
CSV_HEADER = tuple(c.csv for c in CSV_COLUMNS)
REQUIRED_CSV = tuple(c.csv for c in CSV_COLUMNS if c.required)
# What tf.Transform reads: the id, the text and the label's code.
RAW_COLUMNS = _of(Role.ID, Role.TEXT, Role.LABEL)
# What the model reads: its raw text, through the transform graph inside the export.
MODEL_COLUMNS = _of(Role.TEXT)
# What the transformed examples carry unchanged: the id (to find a review) and the label.
CARRIED_BY_TRANSFORM = _of(Role.ID, Role.LABEL)
# What a prediction row carries beside its id, text and prediction, when a record has it.
PREDICTION_COLUMNS = _of(Role.LABEL, Role.PASS_THROUGH)
PASS_THROUGH_COLUMNS = _of(Role.PASS_THROUGH)


def raw_example(record: Dict, label: int) -> Dict:
    """A validated record -> what tf.Transform reads: its raw columns, with ``label`` (the
    label's code, or ``schema.UNLABELED_ID``) for the label."""
    return {c.name: label if c.role is Role.LABEL else record[c.name] for c in RAW_COLUMNS}


def raw_feature_spec(columns: Sequence[Column] = RAW_COLUMNS) -> Dict:
    """{name: tf.io.FixedLenFeature([], type)} of ``columns``: one scalar each."""
    import tensorflow as tf  # here: the readers and the launcher import this module
    return {c.name: tf.io.FixedLenFeature([], tf.as_dtype(c.dtype)) for c in columns}
