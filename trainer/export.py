"""Export: one SavedModel that takes raw review text.

The tf.Transform graph (``TFTransformOutput.transform_features_layer()``, built
on tf_keras) and the trained Keras 3 network are tracked by one ``tf.Module``,
so the export needs neither Keras flavour to load: ``tf.saved_model.load`` and
a signature call are enough, and serving cleans text exactly as training did.
"""

import keras
import tensorflow as tf
import tensorflow_transform as tft

from transforms import schema
from transforms.schema import EXAMPLES_INPUT, EXAMPLES_SIGNATURE, LABEL_OUTPUT, \
    NUM_OOV_OUTPUT, NUM_TOKENS_OUTPUT, PROBABILITY_OUTPUT, REVIEWS_INPUT, SERVING_SIGNATURE


class ReviewClassifier(tf.Module):
    """Raw review strings -> P(positive) and the predicted label."""

    def __init__(self, model: keras.Model, transform_output: tft.TFTransformOutput):
        super().__init__(name='review_classifier')
        self.model = model
        self.input_keys = tuple(model.input.keys())  # the transformed features it takes
        # Keras 3 keeps some state (dropout seed generators) outside what tf.Module
        # finds by itself; tracking every variable is what keras.export does too.
        self.keras_variables = list(model.variables)
        self.tft_layer = transform_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=REVIEWS_INPUT)])
    def classify(self, reviews):
        transformed = self.tft_layer({schema.REVIEW_KEY: reviews})
        inputs = {k: tf.sparse.to_dense(v) if isinstance(v, tf.SparseTensor) else v
                  for k, v in transformed.items() if k in self.input_keys}
        probability = tf.reshape(self.model(inputs, training=False), [-1])
        label = tf.where(probability > 0.5, schema.POSITIVE, schema.NEGATIVE)
        # The whole review's token count and how many of them the vocabulary lacks, as
        # the transform graph computed them: scoring measures vocabulary coverage from
        # these rather than tokenizing a second time.
        return {PROBABILITY_OUTPUT: probability, LABEL_OUTPUT: label,
                NUM_TOKENS_OUTPUT: tf.cast(transformed[schema.NUM_TOKENS_KEY], tf.int64),
                NUM_OOV_OUTPUT: tf.cast(transformed[schema.NUM_OOV_KEY], tf.int64)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)])
    def classify_examples(self, examples):
        parsed = tf.io.parse_example(
            examples, {schema.REVIEW_KEY: tf.io.FixedLenFeature([], tf.string)})
        return self.classify(parsed[schema.REVIEW_KEY])


def export(model: keras.Model, transform_output: tft.TFTransformOutput, path: str) -> None:
    """Writes the SavedModel with ``serving_default`` (raw strings) and ``serving_examples``
    (serialized tf.Example with a ``review`` bytes feature)."""
    module = ReviewClassifier(model, transform_output)
    tf.saved_model.save(module, path, signatures={
        SERVING_SIGNATURE: module.classify,
        EXAMPLES_SIGNATURE: module.classify_examples,
    })
