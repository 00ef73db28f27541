"""Test-side shim that lets Beam's GCS file system talk to fake-gcs-server (tests only).

Python imports ``sitecustomize`` at start-up from ``PYTHONPATH``, so the emulator tests put
this folder there and every process they start (``python -m pipeline.cli ...``) gets the
same two fixes, and only while ``STORAGE_EMULATOR_HOST`` is set (google-cloud-storage then
sends its requests to the emulator by itself):

- Credentials: with none on the machine, Beam retries ``google.auth.default()`` for about
  18 s per process before it connects anonymously; here it gets anonymous credentials at
  once.
- Batches: fake-gcs-server drops the parts of a batch request that carry no ``Content-ID``,
  and google-cloud-storage 3.x sends none; Beam's copy, rename and delete go through
  batches, so each part is given one, as the batch protocol describes.

The patches are applied when those modules are first imported (an import hook), so a
process that never touches GCS pays nothing: importing google-cloud-storage takes seconds.
The product's code knows nothing of this.
"""

import importlib.abc
import itertools
import os
import sys

EMULATOR_ENV = 'STORAGE_EMULATOR_HOST'
PROJECT = 'imdb-sentiment-test'


def _anonymous_default(scopes=None, request=None, quota_project_id=None,
                       default_scopes=None):
    from google.auth.credentials import AnonymousCredentials
    return AnonymousCredentials(), os.environ.get('GOOGLE_CLOUD_PROJECT', PROJECT)


_ORIGINALS = {}   # (module name, attribute) -> what the patch replaced


def _replace(module, owner, attribute: str, value) -> None:
    _ORIGINALS.setdefault((module.__name__, attribute), getattr(owner, attribute))
    setattr(owner, attribute, value)


def _patch_auth(module) -> None:
    _replace(module, module, 'default', _anonymous_default)


def _patch_batch(module) -> None:
    cls = module.MIMEApplicationHTTP
    original = _ORIGINALS.get((module.__name__, '__init__'), cls.__init__)
    numbers = itertools.count(1)

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        del self['Content-ID']   # one, even where a second copy of this shim patched too
        self['Content-ID'] = f'<part-{next(numbers)}>'

    _replace(module, cls, '__init__', __init__)


_PATCHES = {'google.auth': _patch_auth, 'google.cloud.storage.batch': _patch_batch}


class _PatchingLoader(importlib.abc.Loader):
    """The module's own loader, then the patch."""

    def __init__(self, loader, patch):
        self._loader, self._patch = loader, patch

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._patch(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _PatchOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        patch = _PATCHES.get(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchingLoader(spec.loader, patch)
                return spec
        return None


def install() -> None:
    """Patches what is already imported and hooks what is not (idempotent)."""
    for name, patch in _PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    if not any(type(f).__name__ == _PatchOnImport.__name__ for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())


def uninstall() -> None:
    """Undoes ``install`` in this process (a test session goes on without the emulator)."""
    sys.meta_path[:] = [f for f in sys.meta_path
                        if type(f).__name__ != _PatchOnImport.__name__]
    for (name, attribute), original in _ORIGINALS.items():
        module = sys.modules[name]
        owner = module.MIMEApplicationHTTP if attribute == '__init__' else module
        setattr(owner, attribute, original)
    _ORIGINALS.clear()
    # Beam keeps the credentials it found for the life of the process: forget the anonymous
    # ones, so that later tests find what they would have found without the emulator.
    auth = sys.modules.get('apache_beam.internal.gcp.auth')
    if auth is not None:
        auth._Credentials._credentials_init = False
        auth._Credentials._credentials = None


if os.environ.get(EMULATOR_ENV):
    install()
