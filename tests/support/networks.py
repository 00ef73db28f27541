"""A trained model's network rebuilt from its folder, and its scores on the eval split."""

import json
import os

from trainer.task import rebuild_network
from transforms import schema


def rebuilt_network(model_dir):
    """The trained network, rebuilt from the manifest and its saved weights."""
    manifest = json.load(open(os.path.join(model_dir, schema.MANIFEST_FILE)))
    assert manifest['model']['inputs'] == ['token_ids', 'ngram_ids']
    return rebuild_network(model_dir)


def eval_scores(network, data_dir):
    """``network`` on the eval split's TFRecords -> (review ids, P(positive), labels)."""
    from trainer import data
    ids, scores, labels = [], [], []
    for batch_ids, x, y in data.make_dataset(data_dir, 'eval', 64, with_ids=True):
        ids += [i.decode() for i in batch_ids.numpy()]
        scores += network(x, training=False).numpy().reshape(-1).tolist()
        labels += y.numpy().tolist()
    return ids, scores, labels
