"""local_copy: folders copied file by file through Beam's FileSystems, bytes as they are (on a
local disk here; tests/test_object_storage.py copies to and from a GCS emulator)."""

import gzip
import os

from transforms import local_copy


def _tree(folder):
    return sorted(os.path.relpath(os.path.join(d, n), folder).replace(os.sep, '/')
                  for d, _, names in os.walk(folder) for n in names)


def test_a_folder_goes_up_and_comes_down_byte_for_byte_gz_included(tmp_path):
    source = tmp_path / 'model'
    (source / 'variables').mkdir(parents=True)
    (source / 'variables' / 'variables.index').write_bytes(b'\x00index')
    zipped = gzip.compress(b'records')
    (source / 'train-00000-of-00001.tfrecord.gz').write_bytes(zipped)
    copied = local_copy.upload(str(source), str(tmp_path / 'up'))
    assert copied == ['train-00000-of-00001.tfrecord.gz', 'variables/variables.index']
    assert local_copy.relative_files(str(tmp_path / 'up')) == copied
    local_copy.download(str(tmp_path / 'up'), str(tmp_path / 'down'), copied[:1])
    assert _tree(str(tmp_path / 'down')) == copied[:1]
    # Neither decompressed on the way down nor compressed again on the way up.
    assert (tmp_path / 'down' / copied[0]).read_bytes() == zipped


def test_only_a_path_with_a_scheme_is_remote():
    assert local_copy.is_remote('gs://bucket/model')
    assert not local_copy.is_remote('/models/3') and not local_copy.is_remote('out/model')
