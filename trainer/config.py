"""The trainer's configuration: one frozen dataclass, recorded in the model's manifest."""

import dataclasses

POOLING = ('last', 'mean', 'max_mean')


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Network and training hyperparameters. Defaults are the current best recipe."""
    embedding_dim: int = 128
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
    ngram_dropout: float = 0.3       # drops n-grams of a training review
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
        for name in ('embedding_dim', 'lstm_units', 'lstm_layers', 'batch_size', 'epochs'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be at least 1')
