"""The score job's summary: the Beam combiner that reduces scored reviews to the small,
fixed-size summary ``analysis.metrics`` reads (explore's is ``analysis.explore_summary``)."""

import math
from typing import Dict

import apache_beam as beam
import numpy as np

from analysis import metrics
from transforms import schema


class ScoreSummaryFn(beam.CombineFn):
    """Scored review dicts (probability, predicted, label or None, review, rating) ->
    the summary ``analysis.metrics.summarize`` reads: exact confusion counts and log
    loss, per-label score histograms, reliability bins and error counts by slice.

    The accumulator has a fixed size (a few thousand numbers) whatever the input size.
    """

    def create_accumulator(self) -> Dict:
        return {
            'scored': 0, 'labelled': 0, 'predicted_positive': 0, 'log_loss_sum': 0.0,
            'confusion': np.zeros((2, 2), dtype=np.int64),
            'histograms': {k: np.zeros(metrics.BINS, dtype=np.int64)
                           for k in ('positive', 'negative', schema.UNLABELED)},
            'calibration': {'count': np.zeros(metrics.CALIBRATION_BINS),
                            'prob_sum': np.zeros(metrics.CALIBRATION_BINS),
                            'positives': np.zeros(metrics.CALIBRATION_BINS)},
            'slices': {'length_words': {}, 'negation': {}, 'rating': {}},
        }

    def add_input(self, acc: Dict, row: Dict) -> Dict:
        p = row[schema.PROBABILITY_KEY]
        predicted = int(row[schema.PREDICTED_KEY] == schema.POSITIVE)
        acc['scored'] += 1
        acc['predicted_positive'] += predicted
        label = row.get(schema.LABEL_KEY)
        if label is None:
            acc['histograms'][schema.UNLABELED][metrics.score_bin(p)] += 1
            return acc
        truth = schema.LABEL_TO_INT[label]
        acc['labelled'] += 1
        acc['confusion'][truth, predicted] += 1
        acc['histograms'][label][metrics.score_bin(p)] += 1
        clipped = min(max(p, metrics.EPS), 1 - metrics.EPS)
        acc['log_loss_sum'] -= math.log(clipped if truth else 1 - clipped)
        b = metrics.score_bin(p, metrics.CALIBRATION_BINS)
        cal = acc['calibration']
        cal['count'][b] += 1
        cal['prob_sum'][b] += p
        cal['positives'][b] += truth
        error = int(truth != predicted)
        review = row.get(schema.REVIEW_KEY) or ''
        slices = {'length_words': metrics.length_bucket(review),
                  'negation': 'with negation' if metrics.has_negation(review) else 'without',
                  'rating': row.get(schema.RATING_KEY)}
        for name, value in slices.items():
            if value is not None:
                counts = acc['slices'][name].setdefault(str(value), [0, 0])
                counts[0] += 1
                counts[1] += error
        return acc

    def merge_accumulators(self, accs) -> Dict:
        accs = iter(accs)
        merged = next(accs)
        for acc in accs:
            for key in ('scored', 'labelled', 'predicted_positive', 'log_loss_sum', 'confusion'):
                merged[key] += acc[key]
            for group in ('histograms', 'calibration'):
                for key in merged[group]:
                    merged[group][key] += acc[group][key]
            for name, values in acc['slices'].items():
                for value, (count, errors) in values.items():
                    counts = merged['slices'][name].setdefault(value, [0, 0])
                    counts[0] += count
                    counts[1] += errors
        return merged

    def extract_output(self, acc: Dict) -> Dict:
        """JSON-ready: numpy arrays as lists."""
        def plain(value):
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return value.tolist() if isinstance(value, np.ndarray) else value
        return plain(acc)
