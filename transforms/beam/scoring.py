"""Scoring records with an exported model in Beam: RunInference over (metadata, text) pairs,
predictions as rows, and every review of a batch the model failed on as a dead letter.
Used by the score job and by the model gate (evaluate), which scores twice."""

from typing import Dict, Iterator, List

import apache_beam as beam
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.utils.windowed_value import WindowedValue

from transforms import features, schema
from transforms.beam.inference import LABEL, PROBABILITY, ReviewModelHandler
from transforms.beam.validate import rejection

# What a prediction keeps of its record: its id and source (for a dead letter), and the
# columns a prediction row carries (features.PREDICTION_COLUMNS: the label, pass-through).
META = (schema.ID_KEY, schema.SOURCE_KEY, *(c.name for c in features.PREDICTION_COLUMNS))


# How many records LengthOrder holds at most (about 6 MB of reviews).
LENGTH_ORDER_RUN = 4096


class LengthOrder(beam.DoFn):
    """Passes records on unchanged, in runs of up to ``run`` sorted by review length.

    RunInference batches consecutive records, and the exported model runs its LSTM only
    as far as the longest review of a batch (``trainer.export.trim_padding``): batches of
    reviews of similar length cost about 55% of the LSTM steps of batches in file order
    (``train.csv``: 209 tokens a review on average, and in file order almost every batch
    of 256 holds one of the 14% that fill all 400). Memory stays bounded: a run is sorted
    and passed on as soon as it is full, and the rest at the end of the bundle."""

    def __init__(self, run: int = LENGTH_ORDER_RUN):
        super().__init__()
        self._run = run
        self._held: List = []

    def start_bundle(self) -> None:
        self._held = []

    # No return annotations: Beam would take WindowedValue for the output's element type.
    def process(self, record: Dict, timestamp=beam.DoFn.TimestampParam,
                window=beam.DoFn.WindowParam):
        self._held.append(WindowedValue(record, timestamp, (window,)))
        if len(self._held) >= self._run:
            yield from self._release()

    def finish_bundle(self):
        yield from self._release()

    def _release(self):
        held, self._held = self._held, []
        held.sort(key=lambda held_one: len(held_one.value[schema.REVIEW_KEY]))
        yield from held


def key_by_record(record: Dict, keep=META):
    """RunInference input: (the record's metadata, its review text)."""
    return {k: record.get(k) for k in keep}, record[schema.REVIEW_KEY]


def to_prediction(keyed) -> Dict:
    """(metadata, PredictionResult) -> id, probability, predicted, review, and those of the
    label and the pass-through columns (features.PREDICTION_COLUMNS) that the record has."""
    meta, result = keyed
    row = {schema.ID_KEY: meta[schema.ID_KEY],
           schema.PROBABILITY_KEY: result.inference[PROBABILITY],
           schema.PREDICTED_KEY: result.inference[LABEL],
           schema.REVIEW_KEY: result.example}
    for column in features.PREDICTION_COLUMNS:
        if meta.get(column.name) is not None:
            row[column.name] = meta[column.name]
    return row


def failed_batch(failure) -> Iterator[Dict]:
    """(failed batch of (meta, text), exception) -> one dead-letter row per review."""
    batch, error = failure
    for meta, text in batch:
        yield rejection(dict(meta, raw=text), schema.REASON_INFERENCE_FAILED,
                        f'{type(error).__name__}: {error}'[:500])


class ScoreReviews(beam.PTransform):
    """Validated record dicts -> {'scored': (metadata, PredictionResult), 'rejected': dead
    letters of the batches the model failed on}. The model is loaded once per worker."""

    def __init__(self, handler: ReviewModelHandler, keep=META):
        super().__init__()
        self._handler = handler
        self._keep = tuple(keep)  # the record's fields its metadata carries through

    def expand(self, records):
        scored, failed = (records
                          | 'LengthOrder' >> beam.ParDo(LengthOrder())
                          | 'KeyByRecord' >> beam.Map(key_by_record, self._keep)
                          | 'RunInference' >> RunInference(
                              KeyedModelHandler(self._handler)).with_exception_handling())
        return {'scored': scored,
                'rejected': failed.failed_inferences | 'FailedBatches' >> beam.FlatMap(
                    failed_batch)}
