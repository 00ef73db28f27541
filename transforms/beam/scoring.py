"""Scoring records with an exported model in Beam: RunInference over (metadata, text) pairs,
predictions as rows, and every review of a batch the model failed on as a dead letter.
Used by the score job and by the model gate (evaluate), which scores twice."""

from typing import Dict, Iterator

import apache_beam as beam
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

from transforms import schema
from transforms.beam.inference import LABEL, PROBABILITY, ReviewModelHandler
from transforms.beam.validate import rejection

# What a prediction keeps of its record.
META = (schema.ID_KEY, schema.SOURCE_KEY, schema.LABEL_KEY, schema.RATING_KEY)


def key_by_record(record: Dict, keep=META):
    """RunInference input: (the record's metadata, its review text)."""
    return {k: record.get(k) for k in keep}, record[schema.REVIEW_KEY]


def to_prediction(keyed) -> Dict:
    """(metadata, PredictionResult) -> id, probability, predicted, review, label and rating."""
    meta, result = keyed
    row = {schema.ID_KEY: meta[schema.ID_KEY],
           schema.PROBABILITY_KEY: result.inference[PROBABILITY],
           schema.PREDICTED_KEY: result.inference[LABEL],
           schema.REVIEW_KEY: result.example}
    for key in (schema.LABEL_KEY, schema.RATING_KEY):
        if meta.get(key) is not None:
            row[key] = meta[key]
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
                          | 'KeyByRecord' >> beam.Map(key_by_record, self._keep)
                          | 'RunInference' >> RunInference(
                              KeyedModelHandler(self._handler)).with_exception_handling())
        return {'scored': scored,
                'rejected': failed.failed_inferences | 'FailedBatches' >> beam.FlatMap(
                    failed_batch)}
