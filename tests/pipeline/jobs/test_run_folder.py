"""The run folder: a step's report links to the run's index only inside a run folder."""

import json
import os

from pipeline.jobs.run_folder import SCORE_DIR, index_link
from transforms import schema


def test_run_index_link_only_inside_a_run_folder(tmp_path):
    output = tmp_path / 'run' / SCORE_DIR / 'test'
    assert index_link(str(output)) is None
    os.makedirs(output)
    (tmp_path / 'run' / schema.MANIFEST_FILE).write_text(json.dumps({'job': 'run'}))
    assert index_link(str(output)) == '../../index.html'
    assert index_link(str(tmp_path / 'elsewhere')) is None
