"""Vocabulary coverage of new text: the share of its tokens the model's vocabulary knows.

Tokens come from ``transforms.cleaning.tokenize`` with the cleaning options the
model was trained with (from its manifest), and are looked up in the vocabulary
file the export carries in ``assets/``. A falling coverage is an early sign that
the nightly text no longer looks like the training text.
"""

import json
from typing import Dict, Iterator, List, Optional, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from transforms import features
from transforms.cleaning import CleaningConfig


def model_cleaning(model_dir: str) -> Optional[CleaningConfig]:
    """The cleaning options of the preprocess run the model was trained on, or None
    when the export has no manifest (then coverage cannot be computed faithfully)."""
    path = FileSystems.join(model_dir, features.MANIFEST_FILE)
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as f:
        manifest = json.loads(f.read().decode('utf-8'))
    options = manifest.get('preprocess', {}).get('manifest', {}).get('options')
    if not options:
        return None
    return CleaningConfig(keep_marks=options['keep_marks'],
                          remove_stopwords=options['remove_stopwords'],
                          lemmatize=options['lemmatize'])


def vocabulary_path(model_dir: str) -> str:
    return FileSystems.join(model_dir, 'assets', features.VOCAB_NAME)


class _CountKnownTokens(beam.DoFn):
    """A batch of review texts -> one (tokens in the vocabulary, all tokens) pair."""

    def __init__(self, vocabulary: str, config: CleaningConfig):
        self._vocabulary = vocabulary
        self._config = config

    def setup(self) -> None:
        import tensorflow as tf
        from transforms.cleaning import tokenize
        with FileSystems.open(self._vocabulary) as f:
            words = [w for w in f.read().decode('utf-8').split('\n') if w]
        self._tf, self._tokenize = tf, tokenize
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(words), tf.ones(len(words), dtype=tf.int64)), default_value=0)

    def process(self, texts: List[str]) -> Iterator[Tuple[int, int]]:
        tokens = self._tokenize(self._tf.constant(texts), self._config).flat_values
        known = int(self._tf.reduce_sum(self._table.lookup(tokens)))
        yield known, int(self._tf.size(tokens))


class VocabularyCoverage(beam.PTransform):
    """Review texts -> one dict {'known_tokens', 'tokens'} (nothing for no input)."""

    def __init__(self, model_dir: str, config: CleaningConfig):
        super().__init__()
        self._vocabulary = vocabulary_path(model_dir)
        self._config = config

    def expand(self, texts):
        return (texts
                | 'Batch' >> beam.BatchElements(min_batch_size=64, max_batch_size=512)
                | 'CountKnown' >> beam.ParDo(_CountKnownTokens(self._vocabulary, self._config))
                | 'Sum' >> beam.CombineGlobally(
                    lambda pairs: tuple(map(sum, zip(*pairs))) or (0, 0)).without_defaults()
                | 'ToDict' >> beam.Map(_as_dict))


def _as_dict(pair: Tuple[int, int]) -> Dict[str, int]:
    return {'known_tokens': pair[0], 'tokens': pair[1]}
