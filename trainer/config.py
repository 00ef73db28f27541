"""The trainer's configuration: one frozen dataclass, recorded in the model's manifest."""

import dataclasses

POOLING = ('last', 'mean', 'max_mean')
NGRAM_FIT = ('stacked', 'joint')
EMBEDDING_INIT = ('ppmi_svd', 'random')


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Network and training hyperparameters. Defaults are the current best recipe."""
    embedding_dim: int = 128
    embedding_init: str = 'random'   # random: learnt from the labels alone; ppmi_svd: word
                                     # vectors factorised from co-occurrence counts over the
                                     # train split and any unlabeled reviews preprocess wrote
    freeze_word_vectors: bool = True  # keep ppmi_svd vectors fixed while the LSTM trains
    word_vector_window: int = 5      # co-occurrence window of the ppmi_svd vectors
    lstm_units: int = 64
    lstm_layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.3             # on the LSTM inputs and before the dense head
    recurrent_dropout: float = 0.0   # > 0 disables the fused (cuDNN) LSTM kernel on GPUs
    spatial_dropout: float = 0.2     # drops whole embedding channels
    pooling: str = 'max_mean'        # over the LSTM's per-token outputs, padding masked
    dense_units: int = 64
    ngram_branch: bool = True        # a linear bag-of-n-grams logit beside the LSTM's, when
                                     # preprocess wrote ngram_ids (--ngram-max > 0)
    nb_scaling: bool = True          # scale the n-grams by naive-Bayes log-count ratios
    ngram_fit: str = 'stacked'       # stacked: the LSTM trains alone, the n-gram weights are
                                     # fitted as logistic regression (NB-LR), and a 2-weight
                                     # fusion of the two logits is fitted on the eval split;
                                     # joint: both branches train together by gradient descent
    ngram_c: float = 0.3             # stacked: inverse L2 strength of the n-gram regression
    distill_unlabeled: bool = True   # stacked: the LSTM also learns from the unlabeled split,
                                     # when preprocess --unlabeled wrote one, labelled by the
                                     # n-gram regression (no unlabeled split: no effect)
    ngram_dropout: float = 0.3       # joint: drops n-grams of a training review
    ngram_lr_scale: float = 10.0     # joint: the n-gram weights are scale * v, which multiplies
                                     # their effective (Adam) learning rate
    ngram_init: float = 0.066        # joint: initial n-gram weight (times the NB ratio)
    ngram_l2: float = 1e-4           # joint: l2 * sum(w**2) on the n-gram weights
    learning_rate: float = 1e-3
    batch_size: int = 64
    epochs: int = 10                 # the maximum; early stopping ends sooner
    early_stopping_patience: int = 2
    reduce_lr_patience: int = 1
    reduce_lr_factor: float = 0.5
    shuffle_buffer: int = 25000
    seed: int = 42

    def __post_init__(self):
        if self.pooling not in POOLING:
            raise ValueError(f'pooling must be one of {POOLING}')
        for name in ('dropout', 'recurrent_dropout', 'spatial_dropout', 'ngram_dropout'):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f'{name} must be in [0, 1)')
        if self.embedding_init not in EMBEDDING_INIT:
            raise ValueError(f'embedding_init must be one of {EMBEDDING_INIT}')
        if self.ngram_fit not in NGRAM_FIT:
            raise ValueError(f'ngram_fit must be one of {NGRAM_FIT}')
        if self.ngram_c <= 0:
            raise ValueError('ngram_c must be positive')
        if self.ngram_lr_scale <= 0:
            raise ValueError('ngram_lr_scale must be positive')
        if self.ngram_l2 < 0:
            raise ValueError('ngram_l2 must be at least 0')
        for name in ('embedding_dim', 'lstm_units', 'lstm_layers', 'batch_size', 'epochs',
                     'word_vector_window'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be at least 1')
