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


class NgramBag(layers.Layer):
    """Binary bag of n-gram ids [batch, None] (0 = padding) -> a linear logit [batch, 1].

    The logit is sum of w[id] * r[id] over the review's n-grams: ``r`` are fixed
    feature scales (naive-Bayes log-count ratios, set by ``set_ratios``; ones
    otherwise) and ``w`` the weights. This is logistic regression on NB-scaled
    binary n-grams (NB-LR): fitted by the trainer (stacked recipe), or trained
    jointly with the LSTM (joint recipe, where ``w`` starts at ``init``).
    In training each n-gram is dropped with probability ``dropout``.

    ``w = scale * kernel``: with Adam a step moves ``kernel`` by about the learning
    rate whatever the gradient's size, so ``scale`` multiplies the wide branch's
    effective learning rate (the LSTM's stays as it is). ``w`` starts at ``init``
    everywhere: 0 is plain logistic regression from scratch; c > 0 starts the
    branch as the naive-Bayes classifier c * sum of the review's log-count ratios.
    ``l2`` adds l2 * sum(w**2) to the loss, as logistic regression's C does
    (l2 = 1 / (2 C n) for n training reviews): 600k n-grams fit 16k reviews perfectly.
    """

    def __init__(self, num_ids: int, dropout: float = 0.0, seed: int = 0, scale: float = 1.0,
                 init: float = 0.0, l2: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_ids = num_ids
        self.dropout = dropout
        self.scale = scale
        self.init = init
        self.l2 = l2
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.ratios = self.add_weight(shape=(self.num_ids + 1,), initializer='ones',
                                      trainable=False, name='ratios')
        self.kernel = self.add_weight(
            shape=(self.num_ids + 1,), name='kernel',
            initializer=keras.initializers.Constant(self.init / self.scale),
            regularizer=keras.regularizers.L2(self.l2 * self.scale ** 2) if self.l2 else None)

    def set_ratios(self, ratios) -> None:
        self.ratios.assign(ops.convert_to_tensor(ratios, dtype=self.ratios.dtype))

    def call(self, ids, training=False):
        present = ops.cast(ids > 0, self.kernel.dtype)
        if training and self.dropout:
            keep = keras.random.uniform(ops.shape(present), seed=self.seed_generator)
            present = present * ops.cast(keep >= self.dropout, present.dtype) / (1 - self.dropout)
        weights = ops.take(self.kernel * (self.ratios * self.scale), ids, axis=0)
        return ops.sum(weights * present, axis=1, keepdims=True)

    def get_config(self):
        return dict(super().get_config(), num_ids=self.num_ids, dropout=self.dropout,
                    scale=self.scale, init=self.init, l2=self.l2)


class Fusion(layers.Layer):
    """[LSTM logit, n-gram logit] -> a * lstm + b * ngram + c, with fixed (fitted) a, b, c.

    The stacked recipe fits (a, b, c) by logistic regression on the eval split,
    after both branches are trained; until then it is the plain sum."""

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


def build_model(config: ModelConfig, vocab_ids: int, max_tokens: int,
                ngram_ids: int = 0) -> keras.Model:
    """{token_ids: int64 [batch, max_tokens] (0 = padding), and with ``ngram_ids`` > 0 and
    ``config.ngram_branch`` ngram_ids: int64 [batch, None] (0 = padding)} -> P(positive) [batch, 1].

    ``vocab_ids`` is the number of distinct token ids including padding and the OOV
    buckets; ``ngram_ids`` the size of the n-gram vocabulary (ids 1..ngram_ids).
    With ``ngram_fit='joint'`` the n-gram branch's linear logit is added to the
    LSTM's and both train together; with ``'stacked'`` the n-gram weights and the
    ``fusion`` layer are not trainable here: the trainer fits the n-gram weights,
    trains ``lstm_model(model)``, then fits the fusion. With ``embedding_init='ppmi_svd'`` the trainer sets the
    embedding's weights before training (frozen with ``freeze_word_vectors``).
    """
    token_ids = keras.Input(shape=(max_tokens,), dtype='int64', name=features.TOKEN_IDS_KEY)
    inputs = {features.TOKEN_IDS_KEY: token_ids}
    pretrained = config.embedding_init != 'random'
    x = layers.Embedding(vocab_ids, config.embedding_dim, mask_zero=True,
                         trainable=not (pretrained and config.freeze_word_vectors),
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
    logit = layers.Dense(1, name='logit')(x)
    if ngram_ids and config.ngram_branch:
        ngrams = keras.Input(shape=(None,), dtype='int64', name=features.NGRAM_IDS_KEY)
        inputs[features.NGRAM_IDS_KEY] = ngrams
        joint = config.ngram_fit == 'joint'
        wide = NgramBag(ngram_ids, dropout=config.ngram_dropout if joint else 0.0,
                        seed=config.seed, scale=config.ngram_lr_scale if joint else 1.0,
                        init=config.ngram_init if joint else 0.0,
                        l2=config.ngram_l2 if joint else 0.0,
                        trainable=joint, name='ngram_bag')(ngrams)
        if joint:
            logit = layers.Add(name='wide_and_deep')([logit, wide])
        else:
            logit = Fusion(name='fusion')([logit, wide])
    probability = layers.Activation('sigmoid', name='probability')(logit)
    model = keras.Model(inputs, probability, name='review_lstm')
    _compile(model, config)
    return model


def lstm_model(model: keras.Model, config: ModelConfig) -> keras.Model:
    """The LSTM branch of ``model`` alone (its layers, shared): token_ids -> sigmoid(LSTM logit)."""
    token_ids = model.input[features.TOKEN_IDS_KEY]
    probability = layers.Activation('sigmoid', name='lstm_probability')(
        model.get_layer('logit').output)
    lstm = keras.Model({features.TOKEN_IDS_KEY: token_ids}, probability, name='review_lstm_only')
    _compile(lstm, config)
    return lstm


def _compile(model: keras.Model, config: ModelConfig) -> None:
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss='binary_crossentropy',
                  metrics=['accuracy', keras.metrics.AUC(name='auc')])
