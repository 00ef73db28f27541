"""Read -> Validate -> dead letters -> counts: the one way every job takes in reviews."""

from typing import Dict, List, Optional, Sequence

import apache_beam as beam

from transforms import features, schema
from transforms.beam.inputs import InputSpec
from transforms.beam.progress import LogProgress
from transforms.beam.read import ReadReviews
from transforms.beam.sinks import CountAs, WriteJsonLines
from transforms.beam.unique_ids import FindRepeats, ids_of, mark_repeats
from transforms.beam.validate import ValidateReviews

# What ReadAndValidate counts, under these names unless told otherwise.
READ, ACCEPTED, REJECTED = 'read', 'accepted', 'rejected'


class ReadAndValidate(beam.PTransform):
    """PBegin -> {'accepted': clean record dicts, 'rejected': dead-letter rows,
    'input_stats': (input path, digest dict), 'counts': [PCollection of (name, n)],
    'repeats': (place of a repeat, place of its id's first record) pairs from ``FindRepeats``,
    or None without an id column}.

    Dead letters are written to ``rejected_prefix``-SSSSS-of-NNNNN.jsonl when it is given.
    The counts are read, accepted and rejected (renamed by ``count_names``) and, with
    ``count_reasons``, one ``rejected:<reason>`` count per reason met; a job adds them to
    its own before ``transforms.beam.sinks.write_job_stats``, and they must reconcile:
    read = accepted + rejected.
    """

    def __init__(self, specs: Sequence[InputSpec], require_label: bool, max_review_chars: int,
                 rejected_prefix: Optional[str] = None, reshuffle_records: bool = False,
                 count_names: Optional[Dict[str, str]] = None, count_reasons: bool = True,
                 again: bool = False, repeats: Optional[beam.PCollection] = None):
        super().__init__()
        # ``again``: a second read of inputs that another ReadAndValidate already reads and
        # counts, for a stage that must not wait on a collection held in memory (see
        # pipeline/jobs/preprocess.py): the same records accepted (ids checked
        # alike), but no progress log, no dead letters, no counts.
        self._again = again
        # ``repeats``: the output's 'repeats' of an earlier ReadAndValidate of the same inputs,
        # so that a second read marks the same records without checking the ids again.
        self._repeats = repeats
        self._specs = list(specs)
        self._require_label = require_label
        self._max_review_chars = max_review_chars
        self._rejected_prefix = rejected_prefix
        self._reshuffle_records = reshuffle_records
        self._names = dict({READ: READ, ACCEPTED: ACCEPTED, REJECTED: REJECTED},
                           **(count_names or {}))
        self._count_reasons = count_reasons

    def expand(self, pbegin):
        read = pbegin | 'ReadReviews' >> ReadReviews(
            self._specs, reshuffle_records=self._reshuffle_records,
            max_review_chars=self._max_review_chars, counted=not self._again)
        records = read['records']
        if not self._again:
            # A running count in the log, so that a long read never looks like a hang.
            records = records | 'LogProgress' >> beam.ParDo(
                LogProgress('reviews ' + self._names[READ].replace('_', ' ')))
        repeats = self._repeats
        if repeats is None and any(features.ID.csv in s.columns for s in self._specs):
            # An id column may repeat an id, in its file or another: checked over every input,
            # from two light reads of the ids (transforms/beam/unique_ids.py says why two).
            ids = [ids_of((pbegin | f'Read{name}' >> ReadReviews(
                self._specs, max_review_chars=self._max_review_chars, counted=False))['records'],
                label=f'{name}AndPlace') for name in ('Ids', 'SuspectIds')]
            repeats = tuple(ids) | 'FindRepeats' >> FindRepeats()
        if repeats is not None:
            records = mark_repeats(records, repeats)
        checked = records | 'Validate' >> ValidateReviews(
            require_label=self._require_label, max_review_chars=self._max_review_chars)
        if self._again:
            return {'accepted': checked.accepted, 'rejected': checked.rejected,
                    'input_stats': read['input_stats'], 'counts': [], 'repeats': repeats}
        if self._rejected_prefix:
            _ = checked.rejected | 'WriteRejected' >> WriteJsonLines(self._rejected_prefix)
        counts: List = [
            records | 'CountRead' >> CountAs(self._names[READ]),
            checked.accepted | 'CountAccepted' >> CountAs(self._names[ACCEPTED]),
            checked.rejected | 'CountRejected' >> CountAs(self._names[REJECTED]),
        ]
        if self._count_reasons:
            counts.append(checked.rejected | 'CountReasons' >> CountReasons())
        return {'accepted': checked.accepted, 'rejected': checked.rejected,
                'input_stats': read['input_stats'], 'counts': counts, 'repeats': repeats}


class CountReasons(beam.PTransform):
    """Dead-letter rows -> one (``rejected:<reason>``, n) pair per reason met."""

    def expand(self, rejected):
        return (rejected
                | 'Reason' >> beam.Map(lambda r: schema.rejected_count_key(r[schema.REASON_KEY]))
                | 'PerReason' >> beam.combiners.Count.PerElement())
