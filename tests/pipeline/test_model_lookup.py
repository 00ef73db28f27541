"""Which export a --model means: a registry's champion is used only while its version holds
the content that was promoted."""

import json
import os

import pytest

from pipeline import model_lookup, registry
from tests.support.model_versions import write_version
from transforms import schema
from transforms.errors import ModelError


def test_the_champion_is_used_only_with_the_content_that_was_promoted(tmp_path):
    """Case 6: the champion record names its version's content (its manifest's SHA-256); a
    version whose manifest changed since (rewritten in place) is refused, in one line."""
    root = str(tmp_path)
    for number in (1, 2):
        write_version(root, number)
    registry.promote(root, 1, 'first', force=True)
    assert model_lookup.resolve_model(root) == registry.version_path(root, 1)
    described = model_lookup.describe(registry.version_path(root, 1))
    assert described['version'] == 1 and described['champion'] is True
    assert described[registry.SHA256_KEY] == registry.content_sha256(root, 1)
    manifest = os.path.join(root, '1', schema.MANIFEST_FILE)
    with open(manifest) as f:
        rewritten = dict(json.load(f), created='2026-12-01T00:00:00+00:00')
    with open(manifest, 'w') as f:
        json.dump(rewritten, f)
    with pytest.raises(ModelError, match=r'its champion, version 1, does not verify \(it holds '
                                         r'other content than was promoted'):
        model_lookup.resolve_model(root)
