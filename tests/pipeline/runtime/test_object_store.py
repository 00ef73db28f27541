"""Removing, moving and finding folders on an object store, against fake-gcs-server on
127.0.0.1 (tests/support/gcs_emulator.py): a folder there is a prefix, never an object."""

import re
import uuid

import pytest

from pipeline.runtime import object_store, publish
from tests.support import gcs_emulator

pytestmark = pytest.mark.e2e
BUCKET = 'store-test'


@pytest.fixture(scope='module')
def store(tmp_path_factory):
    """(the emulator, a fresh folder's gs:// path) ; each test writes under its own folder."""
    with gcs_emulator.running_with_bucket(tmp_path_factory, BUCKET,
                                          log_requests=True) as emulator:
        yield emulator


@pytest.fixture()
def root(store):
    return f'gs://{BUCKET}/t-{uuid.uuid4().hex[:8]}'


def _put(*paths: str) -> None:
    from apache_beam.io.filesystems import FileSystems
    for path in paths:
        with FileSystems.create(path) as f:
            f.write(path.encode())


def _names(store, root: str) -> list:
    prefix = root[len(f'gs://{BUCKET}/'):]
    return [n[len(prefix):] for n in store.objects(BUCKET, prefix)]


def test_removing_a_folder_removes_every_object_under_it_and_nothing_beside(store, root):
    out = f'{root}/out'
    _put(f'{out}/manifest.json', f'{out}/predictions/p-0.jsonl', f'{out}/_stats/a/b/c.jsonl',
         f'{root}/out2/keep.txt', f'{root}/out.failed-20260101T000000Z/manifest.json',
         f'{root}/outside.txt')
    object_store.remove(out + '/')
    assert _names(store, root) == ['/out.failed-20260101T000000Z/manifest.json',
                                   '/out2/keep.txt', '/outside.txt']
    object_store.remove(f'{root}/outside.txt')  # an object, not a folder
    object_store.remove(f'{root}/missing')      # nothing there: no error
    assert _names(store, root) == ['/out.failed-20260101T000000Z/manifest.json',
                                   '/out2/keep.txt']


def test_more_objects_than_one_batch_are_all_removed(store, root):
    _put(*[f'{root}/big/part-{i:04d}' for i in range(130)])  # Beam batches 100 a request
    publish.remove_paths([f'{root}/big'])
    assert _names(store, root) == []


def test_a_bucket_is_never_emptied(store):
    with pytest.raises(ValueError, match='is a bucket'):
        object_store.remove(f'gs://{BUCKET}/')
    assert object_store.is_bucket('gs://b') and object_store.is_bucket('gs://b/')
    assert not object_store.is_bucket('gs://b/out')


def test_moving_a_folder_moves_every_object(store, root):
    _put(f'{root}/a.partial-1/manifest.json', f'{root}/a.partial-1/x/y.txt')
    object_store.move_folder(f'{root}/a.partial-1', f'{root}/a')
    assert _names(store, root) == ['/a/manifest.json', '/a/x/y.txt']


def test_a_folder_is_copied_one_request_an_object_its_empty_folder_objects_too(store, root):
    """TensorFlow marks an empty folder with an object named ``folder/``: it is copied as one
    object, not taken for a folder whose objects are copied again."""
    prefix = root[len(f'gs://{BUCKET}/'):]
    for name in ('src/', 'src/t/', 'src/t/v/', 'src/empty/'):
        store.upload(BUCKET, f'{prefix}/{name}', b'')
    _put(f'{root}/src/manifest.json', f'{root}/src/t/a.pb', f'{root}/src/t/v/b.data',
         f'{root}/src/t/v/c.index')
    start = store.log_size()
    object_store.copy_folder(f'{root}/src', f'{root}/dst')
    copies = [target for _, target, status, _ in store.requests(start)
              if re.search(r'/(copyTo|rewriteTo)/', target) and status < 400]
    copied = _names(store, f'{root}/dst')
    assert copied == _names(store, f'{root}/src')
    assert copied == ['/', '/empty/', '/manifest.json', '/t/', '/t/a.pb', '/t/v/',
                      '/t/v/b.data', '/t/v/c.index']
    assert len(copies) == len(copied)
    assert 'manifest.json' in copies[-1]   # last: a reader who finds it finds the rest


def test_leftovers_are_the_folders_named_after_the_output_with_a_matching_suffix(store, root):
    out = f'{root}/out'
    _put(f'{out}/manifest.json', f'{out}.partial-0123abcd/a', f'{out}.partial-0123abcd/b/c',
         f'{out}.old-89abcdef/d', f'{out}.failed-20260101T000000Z/e', f'{out}.partial-x/f',
         f'{out}.lock')
    pattern = re.compile(r'\.(partial|old)-[0-9a-f]{8}')
    assert object_store.leftovers(out, pattern) == [f'{out}.old-89abcdef',
                                                    f'{out}.partial-0123abcd']
    assert object_store.remove_leftovers(out, pattern) == [f'{out}.old-89abcdef',
                                                           f'{out}.partial-0123abcd']
    assert _names(store, root) == ['/out.failed-20260101T000000Z/e', '/out.lock',
                                   '/out.partial-x/f', '/out/manifest.json']


def test_an_object_is_created_only_if_absent_and_replaced_only_at_the_generation_read(
        store, root):
    path = f'{root}/out.lock'
    first = object_store.create_new(path, b'one')
    assert first and object_store.create_new(path, b'two') is None
    assert object_store.read_versioned(path) == (b'one', first)
    # A request retried after it had succeeded finds its own bytes there: still a success.
    assert object_store.create_new(path, b'one') == first
    assert object_store.replace_if(path, b'three', first + 1) is None
    second = object_store.replace_if(path, b'three', first)
    assert second and second != first
    assert object_store.read_versioned(path) == (b'three', second)
    assert object_store.replace_if(path, b'four', first) is None  # a stale generation
    assert object_store.delete(path) and not object_store.delete(path)
    assert object_store.read_versioned(path) is None
    assert object_store.replace_if(path, b'five', second) is None  # gone
    assert _names(store, root) == []


def test_conditional_writes_are_refused_off_gs(tmp_path):
    with pytest.raises(ValueError, match='need a gs://bucket/object path'):
        object_store.create_new(str(tmp_path / 'lock'), b'x')
