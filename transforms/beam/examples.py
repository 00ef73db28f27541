"""Reviews as tf.Examples and Arrow record batches, in memory that stays flat over any number.

tf.Transform's ``ExampleProtoCoder`` encodes every record into one ``tf.train.Example`` it
keeps for speed. Under the protobuf runtime TensorFlow installs (upb), a message's memory
lives in an arena that is freed only with the message: each string written into the kept
Example (a review's text) is copied into that arena, and clearing the field does not give it
back. One coder so grows by the bytes of every string it has encoded, and lives as long as
the stage that encodes. On the DirectRunner a stage is one bundle over the whole input, so
preprocess grew by about the size of its input in each pass (issue 21: 1.34 GB of peak memory
at 25k reviews, 2.79 GB at 1M).

``BoundedExampleProtoCoder`` is the same coder with its Example (and so its arena) replaced
every ``renew_every`` records. ``ToRecordBatches`` encodes the job's record dicts with it and
decodes them into the Arrow record batches tf.Transform reads (its TFXIO input); given record
dicts instead, tf.Transform would encode them with its own unbounded coder.
"""

from typing import Dict

import apache_beam as beam

RENEW_EVERY = 1024   # records per kept Example: its arena holds about as many reviews' text


def _example_proto_coder():
    from tensorflow_transform.coders import example_proto_coder
    return example_proto_coder.ExampleProtoCoder


class BoundedExampleProtoCoder:
    """tf.Transform's ``ExampleProtoCoder``, whose kept Example is renewed every
    ``renew_every`` records, so its memory does not grow with the records it encodes."""

    def __init__(self, schema, serialized: bool = True, renew_every: int = RENEW_EVERY):
        self._coder = _example_proto_coder()(schema, serialized)
        self._schema, self._serialized, self._renew_every = schema, serialized, renew_every
        self._encoded = 0

    def __reduce__(self):
        return self.__class__, (self._schema, self._serialized, self._renew_every)

    def encode(self, instance: Dict):
        self._encoded += 1
        if self._encoded % self._renew_every == 0:
            # A new coder is a new Example; the old one's arena goes with it.
            self._coder = _example_proto_coder()(self._schema, self._serialized)
        return self._coder.encode(instance)


class ToRecordBatches(beam.PTransform):
    """Record dicts of ``metadata``'s features -> Arrow record batches, with
    ``tensor_adapter_config()`` to hand tf.Transform beside them in place of the metadata."""

    def __init__(self, metadata):
        super().__init__()
        from tfx_bsl.tfxio import tf_example_record
        self._schema = metadata.schema
        self._tfxio = tf_example_record.TFExampleBeamRecord(
            physical_format='inmem', telemetry_descriptors=['imdb-sentiment'],
            schema=self._schema)

    def tensor_adapter_config(self):
        return self._tfxio.TensorAdapterConfig()

    def expand(self, records):
        return (records
                | 'EncodeExamples' >> beam.Map(BoundedExampleProtoCoder(self._schema).encode)
                | 'ToRecordBatches' >> self._tfxio.BeamSource())
