"""Reviews as the Arrow record batches tf.Transform reads, in memory that stays flat.

tf.Transform takes its input as Arrow record batches (its TFXIO format). Given record dicts
instead, it makes them by encoding each record into a ``tf.train.Example`` with its
``ExampleProtoCoder``, which keeps one Example for speed. Under the protobuf runtime
TensorFlow installs (upb), a message's memory lives in an arena freed only with the message:
each review's text written into the kept Example is copied into that arena, and clearing the
field does not give it back. The coder so grows by the bytes of every string it has encoded,
for as long as its stage runs, which on the DirectRunner is a whole pass (issue 21: 1.34 GB
of peak memory at 25k reviews, 2.79 GB at 1M).

``ToRecordBatches`` builds the record batches from the record dicts directly, a column per
feature, with no protobuf in between: nothing is kept from one batch to the next, and the
per-record encode and decode of the Example are gone (about 3% of preprocess's time at 25k
reviews, profiled). The columns have the types tf.Transform's own Example decoder gives
(``large_list`` of ``large_binary`` or ``int64``, one value a row), from the same schema.
"""

from typing import Dict, List

import apache_beam as beam

# Records per record batch: the batches tf.Transform's TensorFlow graph runs on.
RECORDS_PER_BATCH = 1000


def record_batch(records: List[Dict], arrow_schema):
    """Record dicts -> one Arrow record batch of ``arrow_schema``'s columns, each a one-value
    list a row (a string column takes str, UTF-8 encoded, or bytes)."""
    import numpy as np
    import pyarrow as pa
    offsets = pa.array(np.arange(len(records) + 1, dtype=np.int64))
    columns = [pa.LargeListArray.from_arrays(
        offsets, pa.array([record[field.name] for record in records], type=field.type.value_type))
        for field in arrow_schema]
    return pa.RecordBatch.from_arrays(columns, schema=arrow_schema)


class ToRecordBatches(beam.PTransform):
    """Record dicts of ``metadata``'s features (each a scalar: FixedLenFeature ``[]``) ->
    Arrow record batches of up to ``batch_size`` records, with ``tensor_adapter_config()`` to
    hand tf.Transform beside them in place of the metadata."""

    def __init__(self, metadata, batch_size: int = RECORDS_PER_BATCH):
        super().__init__()
        from tfx_bsl.tfxio import tf_example_record
        tfxio = tf_example_record.TFExampleBeamRecord(
            physical_format='inmem', telemetry_descriptors=['imdb-sentiment'],
            schema=metadata.schema)
        self._adapter_config = tfxio.TensorAdapterConfig()
        self._arrow_schema = tfxio.ArrowSchema()
        self._batch_size = batch_size

    def tensor_adapter_config(self):
        return self._adapter_config

    def expand(self, records):
        return (records
                | 'Batch' >> beam.BatchElements(max_batch_size=self._batch_size)
                | 'ToRecordBatch' >> beam.Map(record_batch, self._arrow_schema))
