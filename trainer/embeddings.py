"""Word vectors from co-occurrence counts: positive PMI, then a truncated SVD.

16k labelled reviews are too few to learn 30k x 128 embedding weights without
overfitting (the LSTM reaches 0.93 train accuracy in its second epoch while
eval accuracy falls). Vectors factorised from co-occurrence counts over every
available review, labelled or not, give each word a place next to the words it
is used like, and the LSTM can then train on top of them frozen. This is the
count-based counterpart of word2vec (Levy & Goldberg 2014; Levy, Goldberg &
Dagan 2015 for the smoothing used here), cheap enough for two CPU cores.
"""

from typing import Iterable

import numpy as np
from scipy import sparse


def cooccurrence(batches: Iterable[np.ndarray], num_ids: int, window: int) -> sparse.csr_matrix:
    """Symmetric counts of token ids within ``window`` positions of each other, each pair
    weighted 1/distance, over batches of 0-padded id sequences [batch, length]. Id 0 (padding)
    takes no part."""
    counts = sparse.csr_matrix((num_ids, num_ids), dtype=np.float64)
    for ids in batches:
        ids = np.asarray(ids, dtype=np.int64)
        for distance in range(1, min(window, ids.shape[1] - 1) + 1):
            left, right = ids[:, :-distance].ravel(), ids[:, distance:].ravel()
            keep = (left > 0) & (right > 0)
            pairs = sparse.coo_matrix(
                (np.full(int(keep.sum()), 1.0 / distance), (left[keep], right[keep])),
                shape=(num_ids, num_ids)).tocsr()
            counts = counts + pairs + pairs.T
    return counts


def ppmi_svd(counts: sparse.csr_matrix, dim: int, norm: float = 0.5,
             context_smoothing: float = 0.75, seed: int = 0) -> np.ndarray:
    """Co-occurrence counts [V, V] -> vectors [V, dim]: positive pointwise mutual
    information (context counts raised to ``context_smoothing``), factorised by a
    truncated SVD, U * sqrt(S), each row scaled to length ``norm``. Rows of ids
    that never occur (padding among them) are 0."""
    from scipy.sparse.linalg import svds
    coo = counts.tocoo()
    total = coo.data.sum()
    if total <= 0:
        raise ValueError('no co-occurring tokens to learn word vectors from')
    words = np.asarray(counts.sum(axis=1)).ravel()
    contexts = words ** context_smoothing
    contexts = contexts / contexts.sum()
    pmi = (np.log(coo.data / total) - np.log(words[coo.row] / total)
           - np.log(contexts[coo.col]))
    positive = pmi > 0
    matrix = sparse.csr_matrix((pmi[positive], (coo.row[positive], coo.col[positive])),
                               shape=counts.shape)
    k = min(dim, min(matrix.shape) - 1)
    start = np.random.default_rng(seed).uniform(-1, 1, min(matrix.shape))
    u, s, _ = svds(matrix, k=k, v0=start)
    vectors = np.zeros((counts.shape[0], dim), dtype=np.float32)
    vectors[:, :k] = u * np.sqrt(s)
    lengths = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.where(lengths > 0, vectors / np.maximum(lengths, 1e-12) * norm, 0.0)
    vectors[words == 0] = 0.0
    return vectors.astype(np.float32)
