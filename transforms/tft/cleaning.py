"""Review-text cleaning as TensorFlow string ops.

The same functions run inside the tf.Transform ``preprocessing_fn`` (so the
exported model cleans raw text at serving time with the identical graph) and
eagerly wherever another job needs the same tokens (explore).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Tuple

if TYPE_CHECKING:  # annotations only: TensorFlow loads on first use (see each function)
    import tensorflow as tf

# Negations carry sentiment ("not good"), so stop-word removal never drops them.
NEGATIONS = frozenset({
    'no', 'not', 'nor', 'never', 'none', 'nobody', 'nothing', 'neither',
    'nowhere', 'cannot', 'without',
})

_HTML_TAG = r'<[^>]*>'
_MARKS = r'([!?])'
# Anything that is not a letter, digit, apostrophe or a kept mark separates tokens.
_SEPARATORS_KEEP_MARKS = r"[^\p{L}\p{N}'!?]+"
_SEPARATORS = r"[^\p{L}\p{N}']+"
# An apostrophe not inside a word is a quote, not part of a contraction.
_STRAY_APOSTROPHE = r"\B'|'\B"


@dataclasses.dataclass(frozen=True)
class CleaningConfig:
    """Which optional cleaning steps run. HTML removal and lowercasing always do."""
    keep_marks: bool = True          # '!' and '?' become tokens of their own
    remove_stopwords: bool = False   # English stop words, negations kept
    lemmatize: bool = False          # simplemma's English lemma dictionary


@functools.lru_cache(maxsize=1)
def stopwords() -> Tuple[str, ...]:
    """scikit-learn's English stop-word list without the negations."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    return tuple(sorted(w for w in ENGLISH_STOP_WORDS if w not in NEGATIONS))


@functools.lru_cache(maxsize=1)
def lemma_pairs() -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """(inflected forms, lemmas) from the English dictionary simplemma ships.

    Only lowercase alphabetic entries that change the word are kept: the
    cleaned tokens are lowercase, and identity entries would only grow the graph.
    """
    from simplemma.strategies.dictionaries.dictionary_factory import (
        DefaultDictionaryFactory)
    table = DefaultDictionaryFactory().get_dictionary('en')
    keys, values = [], []
    for word, lemma in sorted(table.items()):
        if word != lemma and _is_plain_word(word) and _is_plain_word(lemma):
            keys.append(word)
            values.append(lemma)
    return tuple(keys), tuple(values)


def _is_plain_word(text: str) -> bool:
    return text.replace("'", '').isalpha() and text.islower()


def normalize(text: tf.Tensor, config: CleaningConfig) -> tf.Tensor:
    """Raw review strings -> cleaned strings with tokens separated by spaces."""
    import tensorflow as tf  # loaded on first use, not by --help
    text = tf.strings.regex_replace(text, _HTML_TAG, ' ')
    text = tf.strings.lower(text, encoding='utf-8')
    if config.keep_marks:
        text = tf.strings.regex_replace(text, _MARKS, r' \1 ')
        text = tf.strings.regex_replace(text, _SEPARATORS_KEEP_MARKS, ' ')
    else:
        text = tf.strings.regex_replace(text, _SEPARATORS, ' ')
    return tf.strings.regex_replace(text, _STRAY_APOSTROPHE, ' ')


def tokenize(text: tf.Tensor, config: CleaningConfig) -> tf.RaggedTensor:
    """Raw review strings, shape [batch] -> cleaned tokens, ragged [batch, None]."""
    import tensorflow as tf  # loaded on first use, not by --help
    tokens = tf.strings.split(normalize(text, config))
    if config.remove_stopwords:
        tokens = _drop_stopwords(tokens)
    if config.lemmatize:
        tokens = tokens.with_flat_values(_lemmatize(tokens.flat_values))
    return tokens


def _drop_stopwords(tokens: tf.RaggedTensor) -> tf.RaggedTensor:
    import tensorflow as tf  # loaded on first use, not by --help
    words = tf.constant(stopwords())
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            words, tf.ones_like(words, dtype=tf.int64)), default_value=0)
    keep = tf.equal(tokens.with_flat_values(table.lookup(tokens.flat_values)), 0)
    return tf.ragged.boolean_mask(tokens, keep)


def _lemmatize(words: tf.Tensor) -> tf.Tensor:
    import tensorflow as tf  # loaded on first use, not by --help
    keys, values = lemma_pairs()
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(keys), tf.constant(values)),
        default_value='')
    lemmas = table.lookup(words)
    return tf.where(tf.equal(lemmas, ''), words, lemmas)
