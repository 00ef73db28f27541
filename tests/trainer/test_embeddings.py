"""Word vectors from co-occurrence: counts within the window, PPMI and SVD."""

import numpy as np
import pytest

pytestmark = pytest.mark.e2e


def test_cooccurrence_counts_pairs_within_the_window_and_ignores_padding():
    from trainer import embeddings
    ids = np.array([[1, 2, 3, 0, 0], [3, 1, 0, 0, 0]])
    counts = embeddings.cooccurrence([ids[:1], ids[1:]], num_ids=4, window=2).toarray()
    expected = np.zeros((4, 4))
    for a, b, weight in ((1, 2, 1.0), (2, 3, 1.0), (1, 3, 0.5), (3, 1, 1.0)):
        expected[a, b] += weight
        expected[b, a] += weight
    np.testing.assert_allclose(counts, expected)


def test_ppmi_svd_puts_words_used_alike_together():
    from trainer import embeddings
    rng = np.random.default_rng(0)
    # Words 1-2 appear with contexts 5-7, words 3-4 with contexts 8-10.
    rows = [[rng.choice([1, 2]) if i % 2 else rng.choice([5, 6, 7]) for i in range(12)]
            for _ in range(200)]
    rows += [[rng.choice([3, 4]) if i % 2 else rng.choice([8, 9, 10]) for i in range(12)]
             for _ in range(200)]
    counts = embeddings.cooccurrence([np.array(rows)], num_ids=12, window=2)
    vectors = embeddings.ppmi_svd(counts, dim=4, norm=0.5)
    assert vectors.shape == (12, 4) and not vectors[0].any() and not vectors[11].any()
    np.testing.assert_allclose(np.linalg.norm(vectors[1:11], axis=1), 0.5, rtol=1e-5)
    cos = lambda a, b: vectors[a] @ vectors[b] / 0.25
    assert cos(1, 2) > 0.9 and cos(3, 4) > 0.9 and cos(1, 3) < 0.5
