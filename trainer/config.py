"""The trainer's configuration: one frozen dataclass, recorded in the model's manifest.

Each field's ``metadata['help']`` is its ``imdb-sentiment train --help`` text.
"""

import dataclasses

POOLING = ('last', 'mean', 'max_mean')
EMBEDDING_INIT = ('ppmi_svd', 'random')


def _field(default, help: str):
    """A field with its ``--help`` text (``pipeline.jobs.train`` reads it from the metadata)."""
    return dataclasses.field(default=default, metadata={'help': help})


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Network and training hyperparameters. Defaults are the current best recipe."""
    embedding_dim: int = _field(
        128, 'Size of each token\'s embedding vector (numbers per token id). Larger '
             'learns finer word meanings but trains slower and overfits small datasets; '
             'with --embedding-init ppmi_svd it is also the word vectors\' size.')
    embedding_init: str = _field(
        'random', 'How the embedding starts: random (learnt from the labels alone) or '
                  'ppmi_svd (word vectors factorised from co-occurrence counts over the '
                  'train split and any unlabeled reviews preprocess wrote; helps when '
                  'labelled reviews are few).')
    freeze_word_vectors: bool = _field(
        True, 'With --embedding-init ppmi_svd: keep the word vectors fixed while the LSTM '
              'trains. Turn off to fine-tune them on the labels (more overfitting).')
    word_vector_window: int = _field(
        5, 'With --embedding-init ppmi_svd: how many tokens on each side count as '
           'co-occurring. Smaller windows capture syntax, larger ones topic.')
    lstm_units: int = _field(
        64, 'Units (hidden size) of each LSTM layer, per direction. Raise for large '
            'datasets; training time grows roughly with its square.')
    lstm_layers: int = _field(
        1, 'Number of stacked LSTM layers. More than 1 rarely helps on reviews and '
           'trains proportionally slower.')
    bidirectional: bool = _field(
        True, 'Read each review both forwards and backwards (doubles the LSTM\'s outputs '
              'and its training time).')
    dropout: float = _field(
        0.3, 'Fraction in [0, 1) of the LSTM inputs and of the dense head\'s inputs dropped '
             'in training. Raise when validation loss rises while training loss falls.')
    recurrent_dropout: float = _field(
        0.0, 'Fraction in [0, 1) of the LSTM\'s recurrent state dropped in training. Any '
             'value above 0 disables the fast fused (cuDNN) LSTM kernel on GPUs.')
    spatial_dropout: float = _field(
        0.2, 'Fraction in [0, 1) of whole embedding channels dropped in training, '
             'a regulariser for the embedding; 0 turns it off.')
    pooling: str = _field(
        'max_mean', 'How the LSTM\'s per-token outputs become one vector, padding masked: '
                    'last (the final state), mean, or max_mean (max and mean side by side).')
    dense_units: int = _field(
        64, 'Units of the ReLU layer between the pooled LSTM output and the logit; '
            '0 connects the pooled output to the logit directly.')
    ngram_branch: bool = _field(
        True, 'Add a linear bag-of-n-grams logit beside the LSTM\'s, when preprocess wrote '
              'ngram_ids (its --ngram-max above 0). Turn off to train the LSTM alone.')
    nb_scaling: bool = _field(
        True, 'Scale the n-grams by naive-Bayes log-count ratios from the train split '
              '(NB-LR), which usually adds accuracy to the n-gram branch.')
    ngram_c: float = _field(
        0.3, 'Inverse L2 strength (C) of the n-gram regression, '
             'above 0. Lower regularises more; raise it for large training sets.')
    refit_ngrams: bool = _field(
        True, 'Once the fusion is fitted on the eval split, fit '
              'the n-gram regression again (same C) on the train and eval splits together, '
              'so the exported n-gram weights learn from every labelled review. The fusion '
              'keeps its weights; its bias moves by the new regression\'s intercept. Turn '
              'off to keep the eval split out of the exported model entirely.')
    distill_unlabeled: bool = _field(
        True, 'The LSTM also learns from the unlabeled split '
              '(preprocess --unlabeled), labelled by the n-gram regression. No effect '
              'when there is no unlabeled split.')
    learning_rate: float = _field(
        1e-3, 'Adam\'s initial learning rate; --reduce-lr-factor lowers it when validation '
              'loss stops improving.')
    batch_size: int = _field(
        64, 'Reviews per gradient step. Larger is faster per epoch on a GPU but may need '
            'a higher learning rate.')
    epochs: int = _field(
        10, 'The most passes over the training data; early stopping usually ends sooner.')
    early_stopping_patience: int = _field(
        2, 'Stop after this many epochs without a lower validation loss, and keep the '
           'weights of the best epoch.')
    reduce_lr_patience: int = _field(
        1, 'Multiply the learning rate by --reduce-lr-factor after this many epochs '
           'without a lower validation loss.')
    reduce_lr_factor: float = _field(
        0.5, 'Factor (below 1) that the learning rate is multiplied by when validation '
             'loss stops improving.')
    seed: int = _field(
        42, 'Random seed for weight initialisation, shuffling and dropout; change it to '
            'see how much results vary between runs.')

    def __post_init__(self):
        if self.pooling not in POOLING:
            raise ValueError(f'pooling must be one of {POOLING}')
        for name in ('dropout', 'recurrent_dropout', 'spatial_dropout'):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f'{name} must be in [0, 1)')
        if self.embedding_init not in EMBEDDING_INIT:
            raise ValueError(f'embedding_init must be one of {EMBEDDING_INIT}')
        if self.ngram_c <= 0:
            raise ValueError('ngram_c must be positive')
        for name in ('embedding_dim', 'lstm_units', 'lstm_layers', 'batch_size', 'epochs',
                     'word_vector_window'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be at least 1')
