"""The deterministic hash split, and staged publishing of outputs."""

import os

import pytest

from pipeline.outputs import StagedOutput
from tests.fixtures import generated_reviews
from transforms.split import is_eval, normalized_text


def test_duplicates_after_normalization_land_on_the_same_side():
    for text, _ in generated_reviews(300):
        variants = [text, text.upper(), f'  {text}\n', text.replace(' ', '   '),
                    text.replace('<br /><br />', '<br/>')]
        assert len({normalized_text(v) for v in variants}) == 1
        assert len({is_eval(v, 0.2) for v in variants}) == 1


def test_split_share_is_close_to_the_fraction():
    texts = [f'review number {i}' for i in range(20000)]
    share = sum(is_eval(t, 0.2) for t in texts) / len(texts)
    assert 0.19 < share < 0.21
    assert not any(is_eval(t, 0.0) for t in texts[:100])


def test_failed_run_leaves_nothing_and_keeps_the_previous_result(tmp_path):
    final = str(tmp_path / 'out')
    with StagedOutput(final) as out:
        open(os.path.join(out.path, 'a.txt'), 'w').write('first')
        out.publish()
    with pytest.raises(RuntimeError):
        with StagedOutput(final) as out:
            open(os.path.join(out.path, 'a.txt'), 'w').write('half')
            raise RuntimeError('interrupted')
    assert sorted(os.listdir(tmp_path)) == ['out']
    assert open(os.path.join(final, 'a.txt')).read() == 'first'
    with StagedOutput(final) as out:
        open(os.path.join(out.path, 'b.txt'), 'w').write('second')
        out.publish()
    assert os.listdir(final) == ['b.txt'] and sorted(os.listdir(tmp_path)) == ['out']
