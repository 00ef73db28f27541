"""Dead letters and predictions as JSON lines: any text round-trips, whatever it holds."""

from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.beam.sinks import to_json
from transforms.jsonio import read_json_lines


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=100), min_size=1, max_size=5))
def test_any_text_round_trips_through_json_lines(tmp_path_factory, texts):
    """Lone surrogates included: the line falls back to ASCII escapes."""
    path = str(tmp_path_factory.mktemp('jsonl') / 'rows.jsonl')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(''.join(to_json({'review': t}) + '\n' for t in texts))
    assert [r['review'] for r in read_json_lines(path)] == texts
