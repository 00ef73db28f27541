"""Model registry versions without training: exports that verify (their manifest lists each
file with its size and SHA-256) but hold no network, for the registry's bookkeeping tests."""

import json
import os

from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

from transforms import schema
from transforms.beam.inference import export_files


def write_export(folder: str, created: str = '2026-11-01T00:00:00+00:00',
                 weights: bytes = b'weights') -> str:
    """A folder that passes export_problem and verify_export: a saved_model.pb with one
    graph, variables/ with its index and data, and a manifest listing them."""
    os.makedirs(os.path.join(folder, schema.VARIABLES_DIR))
    graph = saved_model_pb2.SavedModel(meta_graphs=[meta_graph_pb2.MetaGraphDef()])
    with open(os.path.join(folder, schema.SAVED_MODEL_FILE), 'wb') as f:
        f.write(graph.SerializeToString())
    for name, data in (('variables.index', b'index'),
                       ('variables.data-00000-of-00001', weights)):
        with open(os.path.join(folder, schema.VARIABLES_DIR, name), 'wb') as f:
            f.write(data)
    manifest = {'job': 'train', 'status': 'ok', 'created': created,
                schema.EXPORT_FILES_KEY: export_files(folder)}
    with open(os.path.join(folder, schema.MANIFEST_FILE), 'w', encoding='utf-8') as f:
        json.dump(manifest, f)
    return folder


def write_version(root, number: int, **kwargs) -> str:
    """Version ``number`` of the registry ``root``, as a user's copy would make it."""
    return write_export(os.path.join(str(root), str(number)), **kwargs)
