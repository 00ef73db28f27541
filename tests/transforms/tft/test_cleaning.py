"""Text cleaning as TF string ops, run eagerly (the same functions run in the tf.Transform graph)."""

from typing import List

import tensorflow as tf

from transforms.tft.cleaning import NEGATIONS, CleaningConfig, lemma_pairs, stopwords, tokenize


def _tokens(text: str, **config) -> List[str]:
    ragged = tokenize(tf.constant([text]), CleaningConfig(**config))
    return [t.decode() for t in ragged[0].numpy()]


def test_html_is_removed_and_text_lowercased():
    assert _tokens('Great<br /><br />FILM <i>ever</i>') == ['great', 'film', 'ever']


def test_marks_become_tokens_and_other_punctuation_separates():
    assert _tokens('Wow!! Really? (yes), well...done') == [
        'wow', '!', '!', 'really', '?', 'yes', 'well', 'done']


def test_marks_can_be_dropped():
    assert _tokens('Wow!! Really?', keep_marks=False) == ['wow', 'really']


def test_contractions_kept_but_quotes_stripped():
    assert _tokens("I don't like 'quoted' words") == ['i', "don't", 'like', 'quoted', 'words']


def test_unicode_letters_survive_lowercasing():
    assert _tokens('AMÉLIE était Déjà vu') == ['amélie', 'était', 'déjà', 'vu']


def test_stopwords_removed_but_negations_kept():
    tokens = _tokens('This is not the best and it was never good', remove_stopwords=True)
    assert tokens == ['not', 'best', 'never', 'good']
    assert NEGATIONS.isdisjoint(stopwords())
    assert _tokens("it isn't bad", remove_stopwords=True) == ["isn't", 'bad']


def test_lemmatization_maps_inflections():
    assert _tokens('The movies were loved by critics', lemmatize=True) == [
        'the', 'movie', 'be', 'love', 'by', 'critic']


def test_lemma_table_comes_from_the_shipped_dictionary():
    keys, values = lemma_pairs()
    assert len(keys) == len(values) > 50000
    table = dict(zip(keys, values))
    assert table['movies'] == 'movie' and 'movie' not in table


def test_empty_and_batch_inputs():
    ragged = tokenize(tf.constant(['', '<br />', 'a b']), CleaningConfig())
    assert ragged.row_lengths().numpy().tolist() == [0, 0, 2]
