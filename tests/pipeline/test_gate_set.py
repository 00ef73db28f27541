"""The gate set: pinned once with its hashes, replaced only on purpose, refused when changed."""

import csv
import os

import pytest

from pipeline import gate_set, registry
from pipeline.jobs import models
from tests.support.datasets import generated_reviews, write_aclimdb, write_csv
from tests.support.model_versions import write_version
from transforms.errors import ModelError


@pytest.fixture
def registry_dir(tmp_path):
    root = str(tmp_path / 'models')
    write_version(root, 1)
    return root


def test_a_pinned_set_is_a_copy_with_its_count_and_hashes(registry_dir, tmp_path):
    data = write_csv(str(tmp_path / 'trusted.csv'), generated_reviews(30, seed=3) + [
        ('no label here', '')])
    acl = write_aclimdb(str(tmp_path / 'acl'), 'test', generated_reviews(6, seed=4))
    pinned = gate_set.pin(registry_dir, [data, acl], 'hand-checked')
    assert pinned['count'] == 36 and pinned['source'] == [data, acl]
    assert pinned['reason'] == 'hand-checked' and pinned['replaces'] is None
    assert len(pinned['files']) == 7 and len(pinned['sha256']) == 64
    # The original may change or go: the registry keeps its own copy.
    os.remove(data)
    found = gate_set.verified(registry_dir)
    assert [os.path.basename(p) for p in found['paths']] == ['gate-0-0.csv', 'gate-1']
    assert all(p.startswith(os.path.join(registry_dir, 'gate_set')) for p in found['paths'])
    assert '36 labelled reviews' in gate_set.describe(found)


def test_it_is_replaced_only_on_purpose_and_the_old_one_is_kept(registry_dir, tmp_path):
    first = write_csv(str(tmp_path / 'a.csv'), generated_reviews(10, seed=5))
    second = write_csv(str(tmp_path / 'b.csv'), generated_reviews(20, seed=6))
    gate_set.pin(registry_dir, [first], 'first')
    with pytest.raises(ModelError, match='has a gate set already .*--replace'):
        gate_set.pin(registry_dir, [second], 'again')
    assert gate_set.manifest(registry_dir)['count'] == 10
    again = gate_set.pin(registry_dir, [second], 'better labels', replace=True)
    assert again['count'] == 20 and again['replaces']['count'] == 10
    assert [n for n in os.listdir(registry_dir) if n.startswith('gate_set.replaced-')]


def test_a_changed_file_is_refused_before_any_candidate_is_judged_on_it(registry_dir, tmp_path):
    assert gate_set.verified(registry_dir) is None
    gate_set.pin(registry_dir, [write_csv(str(tmp_path / 'a.csv'), generated_reviews(10))], 'x')
    copy = gate_set.verified(registry_dir)['paths'][0]
    with open(copy, 'a', encoding='utf-8') as f:
        f.write('"a review someone added",positive\n')
    with pytest.raises(ModelError, match='does not verify .*changed.*--replace'):
        gate_set.verified(registry_dir)


def test_no_labelled_review_and_a_folder_that_is_no_registry_are_refused(registry_dir,
                                                                         tmp_path):
    unlabelled = write_csv(str(tmp_path / 'u.csv'), [('text',)], header=('review',))
    with pytest.raises(ModelError, match='no labelled review'):
        gate_set.pin(registry_dir, [unlabelled], 'x')
    assert gate_set.manifest(registry_dir) is None
    assert not [n for n in os.listdir(registry_dir) if n.startswith('gate_set')]
    other = tmp_path / 'notes'
    other.mkdir()
    (other / 'todo.txt').write_text('mine')
    with pytest.raises(ModelError, match='not a model registry'):
        gate_set.pin(str(other), [unlabelled], 'x')


def test_the_first_promotion_pins_the_reviews_that_blessed_it(registry_dir, tmp_path, capsys):
    data = write_csv(str(tmp_path / 'held_out.csv'), generated_reviews(12, seed=7))
    registry.record_verdict(registry_dir, 1, {'blessed': True, 'checks': [], 'data': [data]})
    assert models.run(['promote', registry_dir, '1', '--reason', 'first']) == 0
    assert gate_set.manifest(registry_dir)['source'] == [data]
    assert '12 labelled reviews' in capsys.readouterr().out
    # A later promotion leaves it as it is; `gate-set` without --replace refuses.
    other = write_csv(str(tmp_path / 'other.csv'), generated_reviews(8, seed=8))
    registry.record_verdict(registry_dir, 1, {'blessed': True, 'checks': [], 'data': [other]})
    assert models.run(['promote', registry_dir, '1', '--reason', 'again']) == 0
    assert gate_set.manifest(registry_dir)['source'] == [data]
    with pytest.raises(ModelError, match='--replace'):
        models.run(['gate-set', registry_dir, '--data', other, '--reason', 'newer'])
    assert models.run(['gate-set', registry_dir, '--data', other, '--reason', 'newer',
                       '--replace']) == 0
    assert gate_set.manifest(registry_dir)['count'] == 8
    models.run(['list', registry_dir])
    assert 'gate set: 8 labelled reviews' in capsys.readouterr().out


def test_ids_of_the_copy_are_its_own(registry_dir, tmp_path):
    """A split with an id column (preprocess's test split) keeps its rows, its ids prefixed:
    the next run's split of the same file, judged beside it, repeats none of them."""
    split = write_csv(str(tmp_path / 'test-00000-of-00001.csv'),
                      [('reviews.csv:7', 'good film', 'positive'),
                       ('reviews.csv:9', 'bad, "awful"\nfilm', 'negative')],
                      header=('id', 'review', 'sentiment'))
    pinned = gate_set.pin(registry_dir, [split], 'x')
    copy = os.path.join(registry_dir, 'gate_set', pinned['data'][0])
    with open(copy, newline='', encoding='utf-8') as f:
        rows = list(csv.reader(f))
    assert rows == [['id', 'review', 'sentiment'],
                    ['gate_set/reviews.csv:7', 'good film', 'positive'],
                    ['gate_set/reviews.csv:9', 'bad, "awful"\nfilm', 'negative']]
    assert pinned['count'] == 2
