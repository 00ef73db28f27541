"""Publishing on an object store driven step by step, as ``publish_driver`` does on disk: a
forked process publishes a small output through ``StagedOutput`` and kills itself (SIGKILL)
before or after its K-th step (each object written and each create, compare-and-swap,
delete, prefix removal and copy that the publish sends the store); and what a prefix holds
after it, read from the emulator itself.

A fork, not a fresh interpreter: the child has Beam and the GCS client loaded already, so a
case takes a fraction of a second; it reaches the emulator as the test process does
(``gcs_emulator.running``).
"""

import json
import os
import signal
from typing import Iterable, List, Optional, Union

from tests.support.gcs_emulator import Emulator

# The object_store functions that change the store: one step each.
STEPS = ('create_new', 'replace_if', 'delete', 'remove', 'copy')
FILES = ('a.txt', 'sub/b.txt', 'manifest.json')


def _child(final: str, version: Optional[str], kill_at: int, when: str, fail: bool,
           registry: bool = False) -> List[str]:
    """In the forked process: the publish with the kill armed; returns its steps (the
    function and the path of each). ``registry``: ``final`` is a model registry, and the
    run publishes its next version as ``train --registry`` does."""
    from apache_beam.io.filesystems import FileSystems
    from pipeline import new_version
    from pipeline.runtime import object_store, publish
    from transforms import jsonio
    steps = []

    def counted(fn):
        def step(*args, **kwargs):
            i = len(steps)
            steps.append(f'{fn.__name__} {args[0] if args else ""}'.strip())
            if i == kill_at and when == 'before':
                os.kill(os.getpid(), signal.SIGKILL)
            result = fn(*args, **kwargs)
            if i == kill_at and when == 'after':
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        return step

    for name in STEPS:
        setattr(object_store, name, counted(getattr(object_store, name)))
    jsonio.write_json = counted(jsonio.write_json)

    @counted
    def put(path: str, data: bytes) -> None:
        with FileSystems.create(path) as f:
            f.write(data)

    if registry:
        with new_version.stage_version(final) as out:
            stage_export(out, version)
            new_version.publish_version(final, out)
        return steps
    with publish.StagedOutput(final) as out:
        if version is None:  # only what a run does on entry and on leaving unpublished
            return steps
        put(f'{out.path}/a.txt', version.encode())
        put(f'{out.path}/sub/b.txt', (version * 5000).encode())
        if fail:
            out.write_manifest({'job': 'test', 'status': 'failed', 'created': version})
            out.publish_failed()
        else:
            out.write_manifest({'job': 'test', 'status': 'ok', 'created': version})
            out.publish()
    return steps


def drive(final: str, version: Optional[str], kill_at: int = -1, when: str = 'before',
          fail: bool = False, registry: bool = False) -> Union[List[str], int]:
    """Publishes ``version`` to ``final`` (a gs:// path) in a forked process; without
    ``kill_at``, returns the steps it took; with it, the child's exit status
    (``-SIGKILL`` when the kill came). ``version`` None: the run recovers, writes nothing
    and leaves. ``fail``: the run fails and is kept beside. ``registry``: ``final`` is a
    model registry, and ``version`` (files of ``VERSION_FILES``) is its next version."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into the test runner
        code = 1
        try:
            os.close(read)
            os.write(write, json.dumps(_child(final, version, kill_at, when, fail,
                                              registry)).encode())
            code = 0
        except BaseException as e:  # reported through its exit status and stderr
            os.write(2, f'driver: {type(e).__name__}: {e}\n'.encode())
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as f:
        said = f.read()
    _, status = os.waitpid(pid, 0)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    if kill_at < 0:
        assert code == 0, f'the publish of {version} failed (exit {code})'
        return json.loads(said)
    return code


def _split(path: str):
    bucket, _, prefix = path[len('gs://'):].partition('/')
    return bucket, prefix


def names(emulator: Emulator, path: str) -> list:
    """Every object whose name starts with ``path`` (a gs:// path), relative to it."""
    bucket, prefix = _split(path)
    return [n[len(prefix):] for n in emulator.objects(bucket, prefix)]


def _read(path: str) -> Optional[bytes]:
    from pipeline.runtime import object_store
    found = object_store.read_versioned(path)
    return found[0] if found else None


def version_of(emulator: Emulator, folder: str) -> Optional[str]:
    """The version a folder holds whole (exactly the three files, agreeing), or None."""
    if sorted(names(emulator, folder + '/')) != sorted(FILES):
        return None
    a, b, manifest = (_read(f'{folder}/{name}') for name in FILES)
    try:
        created = json.loads(manifest)['created']
    except (TypeError, ValueError, KeyError):
        return None
    whole = a is not None and a.decode() == created and b == a * 5000
    return created if whole else None


def holds_or_recovers(emulator: Emulator, final: str, allowed: Iterable[str]) -> None:
    """The publishing contract at any instant: ``final`` holds one of ``allowed`` whole; or
    it has no manifest (no reader takes it as whole) and its commit object names a whole
    staged copy of one, which the next run publishes. (Whole with a commit object beside
    is the old output until the commit is rolled forward.)"""
    listed = names(emulator, final)
    if '/manifest.json' in listed:
        assert version_of(emulator, final) in allowed, listed
        return
    commit = _read(final + '.commit')
    assert commit is not None, listed
    staged = final + json.loads(commit)['staged']
    assert version_of(emulator, staged) in allowed, listed


def stage_export(out, version: str) -> None:
    """Writes an export that verifies (``tests/support/model_versions``), whose manifest's
    ``created`` is ``version``, into the staged output ``out`` (on gs://), its manifest last."""
    import tempfile
    from tests.support.model_versions import write_export
    from transforms import schema
    from transforms.local_copy import upload
    with tempfile.TemporaryDirectory() as scratch:
        local = write_export(os.path.join(scratch, 'model'), created=version,
                             weights=version.encode())
        with open(os.path.join(local, schema.MANIFEST_FILE), encoding='utf-8') as f:
            manifest = json.load(f)
        os.remove(os.path.join(local, schema.MANIFEST_FILE))
        upload(local, out.path)
    out.write_manifest(manifest)


def version_content(folder: str) -> Optional[str]:
    """The version a registry's version folder holds whole (every file its manifest lists,
    with its size and SHA-256), or None."""
    from transforms.beam.inference import read_model_manifest, verify_export
    if verify_export(folder) is not None:
        return None
    return read_model_manifest(folder).get('created')
