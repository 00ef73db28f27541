"""The LSTM network, built by one pure function from a ModelConfig."""

import dataclasses
from typing import Optional

import keras
from keras import layers, ops

from trainer.config import ModelConfig
from transforms import schema


class MaskedMaxMeanPooling(layers.Layer):
    """[batch, time, units] with a padding mask -> [batch, 2*units]: max and mean over real tokens."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.concatenate([ops.max(inputs, axis=1), ops.mean(inputs, axis=1)], axis=-1)
        weights = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        count = ops.maximum(ops.sum(weights, axis=1), 1.0)
        mean = ops.sum(inputs * weights, axis=1) / count
        very_low = ops.cast(-1e9, inputs.dtype)
        maximum = ops.max(ops.where(weights > 0, inputs, very_low), axis=1)
        # A review with no tokens has no maximum: use zeros rather than -1e9.
        maximum = ops.where(ops.sum(weights, axis=1) > 0, maximum, ops.zeros_like(maximum))
        return ops.concatenate([maximum, mean], axis=-1)

    def compute_mask(self, inputs, mask=None):
        return None


class NgramBag(layers.Layer):
    """Binary bag of n-gram ids [batch, None] (0 = padding) -> a linear logit [batch, 1].

    The logit is sum of w[id] * r[id] over the review's n-grams: ``r`` are fixed feature
    scales (naive-Bayes log-count ratios, set by ``set_ratios``; ones otherwise) and ``w``
    the weights. This is logistic regression on NB-scaled binary n-grams (NB-LR), fitted by
    the trainer (``trainer.stacking``), not by gradient descent: both are set, not trained.
    """

    def __init__(self, num_ids: int, **kwargs):
        kwargs.setdefault('trainable', False)
        super().__init__(**kwargs)
        self.num_ids = num_ids

    def build(self, input_shape):
        self.ratios = self.add_weight(shape=(self.num_ids + 1,), initializer='ones',
                                      trainable=False, name='ratios')
        self.kernel = self.add_weight(shape=(self.num_ids + 1,), initializer='zeros',
                                      name='kernel')

    def set_ratios(self, ratios) -> None:
        self.ratios.assign(ops.convert_to_tensor(ratios, dtype=self.ratios.dtype))

    def set_weights_and_ratios(self, ratios, weights) -> None:
        self.set_ratios(ratios)
        self.kernel.assign(ops.convert_to_tensor(weights, dtype=self.kernel.dtype))

    def call(self, ids):
        present = ops.cast(ids > 0, self.kernel.dtype)
        weights = ops.take(self.kernel * self.ratios, ids, axis=0)
        return ops.sum(weights * present, axis=1, keepdims=True)

    def get_config(self):
        return dict(super().get_config(), num_ids=self.num_ids)


class Fusion(layers.Layer):
    """[LSTM logit, n-gram logit] -> a * lstm + b * ngram + c, with fixed (fitted) a, b, c.

    The stacked recipe fits (a, b, c) by logistic regression on the eval split,
    after both branches are trained; until then it is the plain sum."""

    def __init__(self, **kwargs):
        kwargs.setdefault('trainable', False)
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.coefficients = self.add_weight(shape=(2,), initializer='ones', trainable=False,
                                            name='coefficients')
        self.intercept = self.add_weight(shape=(), initializer='zeros', trainable=False,
                                         name='intercept')

    def call(self, inputs):
        deep, wide = inputs
        return self.coefficients[0] * deep + self.coefficients[1] * wide + self.intercept

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@dataclasses.dataclass(frozen=True)
class Network:
    """The built network and the parts a recipe sets or trains by name.

    ``model``: every input -> P(positive); ``embedding``: the token embedding (word vectors
    are set into it); ``logit``: the LSTM branch's last layer; ``ngram_bag`` and ``fusion``:
    the n-gram branch and the layer that combines the two logits (None without a branch)."""
    model: keras.Model
    embedding: layers.Embedding
    logit: layers.Dense
    ngram_bag: Optional[NgramBag] = None
    fusion: Optional['Fusion'] = None

    def lstm_model(self, config: ModelConfig) -> keras.Model:
        """The LSTM branch alone (its layers, shared): token_ids -> sigmoid(LSTM logit)."""
        token_ids = self.model.input[schema.TOKEN_IDS_KEY]
        probability = layers.Activation('sigmoid', name='lstm_probability')(self.logit.output)
        lstm = keras.Model({schema.TOKEN_IDS_KEY: token_ids}, probability,
                           name='review_lstm_only')
        _compile(lstm, config)
        return lstm

    def branch_logits(self) -> keras.Model:
        """Every input -> [LSTM logit, n-gram logit], before the fusion."""
        return keras.Model(self.model.input, [self.logit.output, self.ngram_bag.output])


def build_model(config: ModelConfig, vocab_ids: int, max_tokens: int,
                ngram_ids: int = 0) -> Network:
    """{token_ids: int64 [batch, max_tokens] (0 = padding), and with ``ngram_ids`` > 0 and
    ``config.ngram_branch`` ngram_ids: int64 [batch, None] (0 = padding)} -> P(positive) [batch, 1].

    ``vocab_ids`` is the number of distinct token ids including padding and the OOV
    buckets; ``ngram_ids`` the size of the n-gram vocabulary (ids 1..ngram_ids). The n-gram
    weights and the fusion are not trainable here: the trainer fits the n-gram weights,
    trains the LSTM branch (``Network.lstm_model``), then fits the fusion
    (``trainer.recipes``). With ``embedding_init='ppmi_svd'`` the trainer sets the
    embedding's weights before training (frozen with ``freeze_word_vectors``).
    """
    token_ids = keras.Input(shape=(max_tokens,), dtype='int64', name=schema.TOKEN_IDS_KEY)
    inputs = {schema.TOKEN_IDS_KEY: token_ids}
    pretrained = config.embedding_init != 'random'
    embedding = layers.Embedding(vocab_ids, config.embedding_dim, mask_zero=True,
                                 trainable=not (pretrained and config.freeze_word_vectors),
                                 name='embedding')
    x = embedding(token_ids)
    if config.spatial_dropout:
        x = layers.SpatialDropout1D(config.spatial_dropout, name='spatial_dropout')(x)
    for i in range(config.lstm_layers):
        last = i == config.lstm_layers - 1
        lstm = layers.LSTM(config.lstm_units, dropout=config.dropout,
                           recurrent_dropout=config.recurrent_dropout,
                           return_sequences=not (last and config.pooling == 'last'),
                           name=f'lstm_{i}')
        x = layers.Bidirectional(lstm, name=f'bilstm_{i}')(x) if config.bidirectional else lstm(x)
    if config.pooling == 'mean':
        x = layers.GlobalAveragePooling1D(name='pool')(x)
    elif config.pooling == 'max_mean':
        x = MaskedMaxMeanPooling(name='pool')(x)
    x = layers.Dropout(config.dropout, name='dropout')(x)
    if config.dense_units:
        x = layers.Dense(config.dense_units, activation='relu', name='dense')(x)
    logit_layer = layers.Dense(1, name='logit')
    logit = logit_layer(x)
    bag = fusion = None
    if ngram_ids and config.ngram_branch:
        ngrams = keras.Input(shape=(None,), dtype='int64', name=schema.NGRAM_IDS_KEY)
        inputs[schema.NGRAM_IDS_KEY] = ngrams
        bag, fusion = NgramBag(ngram_ids, name='ngram_bag'), Fusion(name='fusion')
        logit = fusion([logit, bag(ngrams)])
    probability = layers.Activation('sigmoid', name='probability')(logit)
    model = keras.Model(inputs, probability, name='review_lstm')
    _compile(model, config)
    return Network(model, embedding, logit_layer, bag, fusion)


def _compile(model: keras.Model, config: ModelConfig) -> None:
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss='binary_crossentropy',
                  metrics=['accuracy', keras.metrics.AUC(name='auc')])
