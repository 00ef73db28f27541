"""Explanations: occlusion over the model's own tokens, and shaded pieces that never carry a
tag."""

import pytest

from analysis.explain import occlusion_weights, segments, token_spans
from transforms.tft.cleaning import CleaningConfig


HOSTILE = [
    'Great film!<br /><br />While the plot was "thin", I didn\'t care... 10/10?',
    "It's <i>the</i> worst -- truly_awful, 'quoted' rock'n'roll and CAPS!!",
    'Ünïcödé wörds, numbers 1999 and a verylongwordwithoutanybreakwhatsoever<br/>end',
    "Stray ' apostrophes '' and a''b plus ’curly’ quotes",
]


@pytest.mark.parametrize('text', HOSTILE)
def test_token_spans_are_the_models_tokens(text):
    import tensorflow as tf
    from transforms.tft.cleaning import tokenize
    model = [t.decode() for t in tokenize(tf.constant([text]), CleaningConfig()).to_list()[0]]
    assert [text[s:e].lower() for s, e in token_spans(text, 400)] == model


def test_no_shaded_piece_carries_a_tag():
    text = HOSTILE[0]
    weights = occlusion_weights(text, lambda variants: [0.5] * len(variants))
    shaded = [p['text'] for p in segments(text, weights) if p['weight'] is not None]
    assert shaded[:4] == ['Great', 'film', '!', 'While']
    assert not any('<' in p or '>' in p or '/' in p for p in shaded)
