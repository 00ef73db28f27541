"""The n-gram vocabulary analyzer (transforms.tft.counting) writes what tft.vocabulary writes.

Both analyse the same strings in one tf.Transform run on the DirectRunner; their files
must be equal line for line: the same strings kept (threshold, top_k, none with a
line break, none empty), in the same order (falling count, equal counts in reverse
byte order), whether a bundle's counts are sent on at once or in many small pieces.
"""

import os

import apache_beam as beam
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam

from transforms.tft.counting import CountTopK, count_vocabulary

# Split on single spaces only, so tokens keep line breaks, NUL, U+2028 and the like.
TEXTS = [
    'good good movie bad\nend ', 'movie  x\u2028y \x00 \u00e9t\u00e9 \u00e9t\u00e9',
    'b a b a c c d', 'a\rb a\rb zz zz zz', 'good movie movie \U0001F600 \U0001F600',
    '\u0085 \u0085 yy yy xx xx ww ww', 'bad bad bad \u00e9t\u00e9',
]


def _vocabularies(tmp_path, top_k, threshold, shards, max_keys):
    def preprocessing_fn(inputs):
        tokens = tf.strings.split(inputs['s'], sep=' ')
        theirs = tft.vocabulary(tokens, top_k=top_k, frequency_threshold=threshold,
                                vocab_filename='theirs')
        ours = count_vocabulary(tokens, top_k=top_k, frequency_threshold=threshold,
                                vocab_filename='ours', shards=shards,
                                max_keys_per_bundle=max_keys)
        return {'theirs': tft.apply_vocabulary(tokens, theirs).to_sparse(),
                'ours': tft.apply_vocabulary(tokens, ours).to_sparse()}

    metadata = tft.DatasetMetadata.from_feature_spec({'s': tf.io.FixedLenFeature([], tf.string)})
    out = str(tmp_path / 'out')
    with beam.Pipeline() as p, tft_beam.Context(temp_dir=str(tmp_path / 'tmp')):
        # Several elements per batch and several batches: a bundle counts many of them.
        rows = p | beam.Create([{'s': t} for t in TEXTS * 3])
        transform_fn = (rows, metadata) | tft_beam.AnalyzeDataset(preprocessing_fn)
        _ = transform_fn | tft_beam.WriteTransformFn(out)
    output = tft.TFTransformOutput(out)
    read = [open(output.vocabulary_file_by_name(n), 'rb').read().split(b'\n')[:-1]
            for n in ('theirs', 'ours')]
    return read[0], read[1], output, _files(str(tmp_path / 'tmp'), '.runs')


def _files(folder, ending):
    return [os.path.join(d, n) for d, _, names in os.walk(folder) for n in names
            if n.endswith(ending)]


@pytest.mark.parametrize('top_k,threshold,shards,max_keys', [
    (1000, 1, 16, 2_000_000),   # everything once seen: all strings, one piece per bundle
    (1000, 4, 3, 2),            # at least 4 times; counts sent on every two strings
    (5, 1, 1, 3),               # the five most frequent; one shard
])
def test_the_file_is_tf_transforms_vocabulary(tmp_path, top_k, threshold, shards, max_keys):
    theirs, ours, output, run_files = _vocabularies(tmp_path, top_k, threshold, shards,
                                                    max_keys)
    assert ours == theirs
    if max_keys == 2_000_000:
        # One file a bundle holds every shard's run (there were 16 files a bundle): the
        # strings here fall in more than 8 of the 16 shards, and the rows in a bundle or two.
        assert 1 <= len(run_files) <= 2, run_files
    assert len(ours) == 5 if top_k == 5 else len(ours) > 5
    assert not any(b'\n' in k or b'\r' in k or not k for k in ours)
    assert output.vocabulary_size_by_name('ours') == len(theirs)
    if threshold == 4:  # good: 9 times in all; a\rb: 6, but a line break
        assert b'a\rb' not in ours and b'good' in ours


def test_the_analyzer_needs_tf_transforms_temp_folder():
    with pytest.raises(ValueError):
        with beam.Pipeline() as p:
            _ = p | beam.Create([(tf.constant(['a']).numpy(),)]) | CountTopK(3, 1, 'v')
    with pytest.raises(ValueError):
        CountTopK(0, 1, 'v')
    assert not os.path.exists('tmp')  # nothing written into the working folder


def _order(item):
    return item[1], item[0]  # a vocabulary's order: by count, then bytes, sorted in reverse


def test_a_run_file_gives_back_its_counts(tmp_path):
    from transforms.tft.counting import read_run, write_run
    counts = {b'a': 3, b'': 1, b'x\ny\r\x00': 7, '\u00e9t\u00e9 \U0001F600'.encode(): 2 ** 40}
    path = str(tmp_path / 'one.run')
    write_run(path, counts)
    keys, found = read_run(path)
    assert dict(zip(keys, found)) == counts
    assert list(zip(keys, found)) == list(counts.items())


def test_the_runs_of_one_flush_share_a_file_and_each_reads_back_alone(tmp_path):
    from transforms.tft.counting import read_run, write_runs
    shard_counts = [{b'a': 3, b'x\ny': 1}, None, {}, {'\u00e9'.encode(): 2 ** 40, b'': 5},
                    {b'z': 1}]
    expected = [dict(c) if c else None for c in shard_counts]
    path = str(tmp_path / 'flush.runs')
    places = write_runs(path, shard_counts)
    assert shard_counts == [None, None, {}, None, None]  # each freed once written
    assert [p is not None for p in places] == [True, False, False, True, True]
    assert {p[0] for p in places if p} == {path}
    assert sum(p[2] for p in places if p) == os.path.getsize(path)
    for place, counts in zip(places, expected):
        if place:
            keys, found = read_run(*place)
            assert dict(zip(keys, found)) == counts
    # A run read at a wrong place is not taken for counts.
    _, start, size = places[3]
    with pytest.raises(Exception):
        read_run(path, start + 1, size)


def test_the_best_candidates_are_the_first_of_all_of_them_sorted(tmp_path):
    import random
    from transforms.tft.counting import fold_best, write_run
    rng = random.Random(0)
    strings = [f's{i}'.encode() for i in range(500)]
    rng.shuffle(strings)
    shards = [sorted(((s, rng.randrange(5)) for s in strings[i::7]), key=_order, reverse=True)
              for i in range(7)]
    expected = sorted((c for shard in shards for c in shard), key=_order, reverse=True)[:40]
    paths = []
    for i, candidates in enumerate(shards):
        paths.append(str(tmp_path / f'{i}.best'))
        write_run(paths[-1], dict(candidates))
    assert fold_best(paths, 40) == expected
    assert fold_best(reversed(paths), 40) == expected  # whatever order the files come in
    assert fold_best(paths, 10_000) == sorted((c for shard in shards for c in shard),
                                              key=_order, reverse=True)
    assert fold_best(paths, 1) == expected[:1]
    assert fold_best([], 40) == []
    # Every count equal: the whole choice is among ties, in reverse byte order.
    tied = [str(tmp_path / f'tied{i}.best') for i in range(3)]
    for i, path in enumerate(tied):
        write_run(path, {s: 2 for s in sorted(strings[i::3], reverse=True)})
    assert fold_best(tied, 25) == [(s, 2) for s in sorted(strings, reverse=True)[:25]]


@pytest.mark.parametrize('top_k', [1, 7, 60, 1000])
def test_a_shards_candidates_are_its_best_at_the_threshold(top_k):
    import random
    from transforms.tft.counting import _shard_candidates, _storable
    rng = random.Random(top_k)
    total = {f'w{i}'.encode(): rng.randrange(6) for i in range(300)}
    total.update({b'': 9, b'a\nb': 9, b'c\rd': 5, b'\xff\xfe': 4})   # not all storable
    expected = sorted(((k, c) for k, c in total.items() if c >= 2 and _storable(k)),
                      key=_order, reverse=True)[:top_k]
    assert _shard_candidates((0, total), top_k, 2) == expected
    assert _shard_candidates((0, {}), top_k, 2) == []
