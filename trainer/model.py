"""The LSTM network, built by one pure function from a ModelConfig."""

import keras
from keras import layers, ops

from trainer.config import ModelConfig
from transforms import features


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


def build_model(config: ModelConfig, vocab_ids: int, max_tokens: int) -> keras.Model:
    """token ids int64 [batch, max_tokens] (0 = padding) -> P(positive) [batch, 1].

    ``vocab_ids`` is the number of distinct ids including padding and the OOV buckets.
    """
    token_ids = keras.Input(shape=(max_tokens,), dtype='int64', name=features.TOKEN_IDS_KEY)
    x = layers.Embedding(vocab_ids, config.embedding_dim, mask_zero=True,
                         name='embedding')(token_ids)
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
    probability = layers.Dense(1, activation='sigmoid', name='probability')(x)
    model = keras.Model(token_ids, probability, name='review_lstm')
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss='binary_crossentropy',
                  metrics=['accuracy', keras.metrics.AUC(name='auc')])
    return model
