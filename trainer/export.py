"""Export: one SavedModel that takes raw review text.

The tf.Transform graph (``TFTransformOutput.transform_features_layer()``, built
on tf_keras) and the trained Keras 3 network are written by Keras'
``ExportArchive``, so the export needs neither Keras flavour to load: both
SavedModel loaders serve it, and serving cleans text exactly as training did.

The transform pads every review's token ids to ``max_tokens``; the served graph cuts
the batch's columns after its longest review before the network (``trim_padding``).
The embedding masks padding, so the probabilities are the same, but a batch of short
reviews costs the LSTM their length rather than ``max_tokens`` steps: the score job
batches reviews of similar length together to use it.

- ``tf.saved_model.load`` and a signature call (the Beam RunInference handler);
- the session (TF1) loader of TensorFlow Serving and ``saved_model_cli run``: it
  restores the variables with the checkpoint's restore op and runs the init op
  (``saved_model_main_op``), which fills the lookup tables from the vocabulary
  files under ``assets/``.

The archive tracks the ``tf.Variable`` each endpoint reads, not the Keras model:
a Keras 3 variable wraps a ``tf.Variable``, and saving the wrapper (as tracking
the model or ``model.variables`` does) writes a *copy* of it. The TF2 loader
maps the signatures to the right variables through the object graph, but the
session loader restores the copies while the signatures read the originals, which
it never initialises ("Could not find variable logit/kernel"). The copies would
also double the size of ``variables/``.
"""

import keras
import tensorflow as tf
import tensorflow_transform as tft

from transforms import features, schema
from transforms.schema import EXAMPLES_INPUT, EXAMPLES_SIGNATURE, LABEL_OUTPUT, \
    NUM_OOV_OUTPUT, NUM_TOKENS_OUTPUT, PROBABILITY_OUTPUT, REVIEWS_INPUT, SERVING_SIGNATURE


def trim_padding(token_ids: tf.Tensor) -> tf.Tensor:
    """int64 [batch, max_tokens], 0-padded at the end -> [batch, n]: n is the longest row's
    length (at least 1, so that an empty review or batch keeps one padding column)."""
    positions = tf.range(1, tf.shape(token_ids, out_type=tf.int64)[1] + 1)
    ends = tf.where(token_ids != schema.PADDING_ID, positions[tf.newaxis, :],
                    tf.zeros_like(token_ids))
    return token_ids[:, :tf.maximum(tf.reduce_max(ends), 1)]


def export(model: keras.Model, transform_output: tft.TFTransformOutput, path: str) -> None:
    """Writes the SavedModel with ``serving_default`` (raw strings) and ``serving_examples``
    (serialized tf.Example with a ``review`` bytes feature)."""
    tft_layer = transform_output.transform_features_layer()
    input_keys = tuple(model.input.keys())  # the transformed features the network takes

    def classify(reviews):
        """Raw review strings -> P(positive) and the predicted label."""
        transformed = tft_layer({features.REVIEW_KEY: reviews})
        inputs = {k: tf.sparse.to_dense(v) if isinstance(v, tf.SparseTensor) else v
                  for k, v in transformed.items() if k in input_keys}
        inputs[schema.TOKEN_IDS_KEY] = trim_padding(inputs[schema.TOKEN_IDS_KEY])
        probability = tf.reshape(model(inputs, training=False), [-1])
        label = tf.where(probability > 0.5, schema.POSITIVE, schema.NEGATIVE)
        # The whole review's token count and how many of them the vocabulary lacks, as
        # the transform graph computed them: scoring measures vocabulary coverage from
        # these rather than tokenizing a second time.
        return {PROBABILITY_OUTPUT: probability, LABEL_OUTPUT: label,
                NUM_TOKENS_OUTPUT: tf.cast(transformed[schema.NUM_TOKENS_KEY], tf.int64),
                NUM_OOV_OUTPUT: tf.cast(transformed[schema.NUM_OOV_KEY], tf.int64)}

    archive = keras.export.ExportArchive()
    # The transform graph's lookup tables, and through them its vocabulary files. The
    # network's variables are tracked from what the endpoints read (not ``track(model)``:
    # see the module docstring).
    archive.track(tft_layer)
    serve = archive.add_endpoint(SERVING_SIGNATURE, classify, input_signature=[
        tf.TensorSpec([None], tf.string, name=REVIEWS_INPUT)])

    def classify_examples(examples):
        parsed = tf.io.parse_example(examples, features.raw_feature_spec(features.MODEL_COLUMNS))
        return serve(parsed[features.REVIEW_KEY])  # the traced endpoint: traced once

    archive.add_endpoint(EXAMPLES_SIGNATURE, classify_examples, input_signature=[
        tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)])
    archive.write_out(path, verbose=False)
