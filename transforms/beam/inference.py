"""Beam RunInference support for the exported raw-text model.

Beam's stock TensorFlow handlers cannot load a SavedModel whose signature takes
strings and holds a tf.Transform graph, so this handler loads the export with
``tf.saved_model.load`` (once per worker process, shared by its threads) and
calls ``serving_default`` on batches of raw review strings. An export on an object store
is copied to a local folder first (``local_export``): TensorFlow never reads it there.
"""

import tempfile
import threading
from typing import Any, Dict, Iterable, Optional, Sequence

from apache_beam.ml.inference.base import ModelHandler, PredictionResult
from apache_beam.utils import shared

from transforms import local_copy, schema
from transforms.jsonio import file_sha256, read_json_object

PROBABILITY = schema.PROBABILITY_OUTPUT
LABEL = schema.LABEL_OUTPUT

# One loaded export per worker process for every stage that needs it (RunInference and
# the explanations): a module-level handle is never pickled, so each process has its own.
_LOADED = shared.Shared()
# The local copies of exports on object stores, one per export and process: each folder is
# removed when the process ends (the loaded model may read its assets until then).
_COPIES: Dict[str, tempfile.TemporaryDirectory] = {}
_COPYING = threading.Lock()


def export_problem(path: str) -> Optional[str]:
    """Why ``path`` is not a complete export of `imdb-sentiment train`, or None.

    Checks what a load needs without loading it: saved_model.pb parses, and variables/
    holds its index and data. A truncated copy or a half-written version folder fails here,
    before a job starts, rather than on the workers."""
    from apache_beam.io.filesystems import FileSystems
    pb = FileSystems.join(path, schema.SAVED_MODEL_FILE)
    if not FileSystems.exists(pb):
        return f'no {schema.SAVED_MODEL_FILE}'
    from tensorflow.core.protobuf import saved_model_pb2  # the proto only; TF loads with it
    from google.protobuf.message import DecodeError
    try:
        with FileSystems.open(pb) as f:
            proto = saved_model_pb2.SavedModel.FromString(f.read())
    except (DecodeError, OSError, ValueError) as e:
        return f'{schema.SAVED_MODEL_FILE} is corrupt or truncated ({e})'
    if not proto.meta_graphs:
        return f'{schema.SAVED_MODEL_FILE} holds no graph (truncated?)'
    variables = FileSystems.join(path, schema.VARIABLES_DIR)
    if not FileSystems.exists(FileSystems.join(variables, 'variables.index')) or not \
            FileSystems.match([FileSystems.join(variables, 'variables.data-*')])[0].metadata_list:
        return f'{schema.VARIABLES_DIR}/ is missing or incomplete'
    return None


# The files of a SavedModel that serving reads: listed, with sizes and hashes, in the
# manifest of ``imdb-sentiment train`` (schema.EXPORT_FILES_KEY), and checked before a load.
_SERVED = (schema.SAVED_MODEL_FILE, 'fingerprint.pb', schema.VARIABLES_DIR, 'assets')


def _size(path: str) -> Optional[int]:
    """The file's size in bytes, or None when it is missing; a local path is taken as named,
    never as a pattern."""
    import os
    if '://' not in path:
        return os.path.getsize(path) if os.path.isfile(path) else None
    from apache_beam.io.filesystems import FileSystems
    try:
        return FileSystems.match([path])[0].metadata_list[0].size_in_bytes
    except Exception:  # noqa: BLE001 - missing
        return None


def export_files(path: str) -> Dict[str, Dict]:
    """{relative path: {bytes, sha256}} of the SavedModel files under ``path`` (local)."""
    import os
    found = {}
    for top in _SERVED:
        full = os.path.join(path, top)
        walked = [(full, None)] if os.path.isfile(full) else [
            (os.path.join(d, n), None) for d, _, names in os.walk(full) for n in names]
        for file, _ in walked:
            rel = os.path.relpath(file, path).replace(os.sep, '/')
            found[rel] = {'bytes': os.path.getsize(file), 'sha256': file_sha256(file)}
    return dict(sorted(found.items()))


def read_model_manifest(path: str) -> Optional[Dict]:
    """The export's manifest as a dict, or None (missing, unreadable, or not an object)."""
    return read_json_object(f'{path.rstrip("/")}/{schema.MANIFEST_FILE}')


def model_sha256(path: str) -> Optional[str]:
    """The SHA-256 of the export's manifest.json, which lists every served file's own hash:
    the model's identity, whatever folder holds it (None when it cannot be read)."""
    try:
        return file_sha256(f'{path.rstrip("/")}/{schema.MANIFEST_FILE}')
    except Exception:  # noqa: BLE001 - missing or unreadable: no identity to give
        return None


def verify_export(path: str, hashes: bool = True) -> Optional[str]:
    """Why ``path`` is not the export its manifest describes, or None.

    Checks that the manifest is a JSON object that says ok and lists the served files, that
    each is there with its size and (``hashes``) its SHA-256. Exports made before manifests
    listed their files are checked by structure only (``export_problem``)."""
    from apache_beam.io.filesystems import FileSystems
    manifest = read_model_manifest(path)
    if manifest is None:
        return f'no readable {schema.MANIFEST_FILE} (a JSON object)'
    if manifest.get('status') != 'ok':
        return f'its {schema.MANIFEST_FILE} does not say ok'
    listed = manifest.get(schema.EXPORT_FILES_KEY)
    if not isinstance(listed, dict) or not listed:
        return export_problem(path)
    for rel, expected in listed.items():
        size = _size(FileSystems.join(path, *rel.split('/')))
        if size is None:
            return f'{rel} is missing'
        if size != expected.get('bytes'):
            return f'{rel} has {size} bytes, its manifest says {expected.get("bytes")} (a partial copy?)'
    if hashes:
        for rel, expected in listed.items():
            if file_sha256(FileSystems.join(path, *rel.split('/'))) != expected.get('sha256'):
                return f'{rel} differs from the file its manifest lists (SHA-256)'
    return None


def local_export(path: str) -> str:
    """A local folder holding the export at ``path``, for TensorFlow to load: ``path`` itself
    on a local disk; from an object store, the manifest and the files it lists, copied once
    per process and checked against the manifest's sizes and hashes (ValueError if not)."""
    if not local_copy.is_remote(path):
        return path
    with _COPYING:
        if path not in _COPIES:
            listed = (read_model_manifest(path) or {}).get(schema.EXPORT_FILES_KEY)
            if not isinstance(listed, dict) or not listed:
                raise ValueError(f'model {path}: its {schema.MANIFEST_FILE} lists no files '
                                 f'to copy (train it again to load it from object storage)')
            copy = tempfile.TemporaryDirectory(prefix='imdb-sentiment-model-')
            try:
                local_copy.download(path, copy.name, [schema.MANIFEST_FILE, *listed])
                problem = verify_export(copy.name)
            except BaseException:
                copy.cleanup()
                raise
            if problem:
                copy.cleanup()
                raise ValueError(f'model {path} changed or is damaged: {problem}')
            _COPIES[path] = copy
        return _COPIES[path].name


class Classifier:
    """A loaded export of `imdb-sentiment train`, called on a list of raw review strings.

    Holds the loaded object itself: a signature function alone would not keep
    the model's variables alive. TensorFlow is imported here, on first use, so
    that importing this module (for the job graph, or --help) does not load it.
    """

    def __init__(self, path: str, verify: bool = True):
        if local_copy.is_remote(path):
            path = local_export(path)  # verified as it is copied
        elif verify:
            problem = verify_export(path)
            if problem:
                raise ValueError(f'model {path} changed or is damaged: {problem}')
        import tensorflow as tf
        self._tf = tf
        self._loaded = tf.saved_model.load(path)
        self._serve = self._loaded.signatures[schema.SERVING_SIGNATURE]

    def __call__(self, reviews):
        """-> (probabilities float32 [N], labels as str [N])."""
        out = self.score(reviews)
        return out[schema.PROBABILITY_OUTPUT], out[schema.LABEL_OUTPUT]

    def score(self, reviews) -> Dict[str, Any]:
        """-> {probability: float32 [N], label: str [N]} and, from exports that have them,
        num_tokens and num_oov (int [N])."""
        out = self._serve(**{schema.REVIEWS_INPUT: self._tf.constant(list(reviews),
                                                                          self._tf.string)})
        found = {k: v.numpy() for k, v in out.items()}
        found[schema.LABEL_OUTPUT] = [v.decode() for v in found[schema.LABEL_OUTPUT]]
        return found


def load_classifier(path: str) -> 'Classifier':
    """The process's loaded Classifier for ``path``, loaded on first use.

    The score job needs the export twice, for RunInference and for the occlusion
    weights of the reported errors: loading a SavedModel with its tf.Transform graph
    takes seconds, and each load holds its own copy of the weights and lookup tables."""
    return _LOADED.acquire(lambda: Classifier(path), tag=path)


class ReviewModelHandler(ModelHandler[str, PredictionResult, Any]):
    """Raw review strings -> PredictionResult(example=text, inference={probability, label})."""

    def __init__(self, model_dir: str, min_batch_size: int = 256, max_batch_size: int = 256):
        super().__init__()
        self._model_dir = model_dir
        self._min_batch_size = min_batch_size
        self._max_batch_size = max_batch_size

    def load_model(self):
        return load_classifier(self._model_dir)

    def run_inference(self, batch: Sequence[str], model, inference_args: Optional[Dict] = None
                      ) -> Iterable[PredictionResult]:
        out = model.score(batch)
        counts = [k for k in (schema.NUM_TOKENS_OUTPUT, schema.NUM_OOV_OUTPUT) if k in out]
        for i, text in enumerate(batch):
            inference = {PROBABILITY: float(out[PROBABILITY][i]), LABEL: out[LABEL][i]}
            inference.update((k, int(out[k][i])) for k in counts)
            yield PredictionResult(text, inference, model_id=self._model_dir)

    def batch_elements_kwargs(self) -> Dict[str, int]:
        return {'min_batch_size': self._min_batch_size, 'max_batch_size': self._max_batch_size}

    def share_model_across_processes(self) -> bool:
        return False


def score_texts(model, texts: Sequence[str], batch_size: int = 256):
    """Probabilities for ``texts`` in batches, with a loaded Classifier (for occlusion)."""
    out = []
    for start in range(0, len(texts), batch_size):
        probabilities, _ = model(texts[start:start + batch_size])
        out.extend(float(p) for p in probabilities)
    return out
