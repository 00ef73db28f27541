"""The output guard: a job replaces only its own earlier output, never a user's folder, an input, a
model or another job's output."""

import json
import os

import pytest

from pipeline import cli
from tests.support.datasets import write_csv
from tests.support.hostile import snapshot
from tests.support.read import read_json
from transforms import schema


def _manifest(out):
    return read_json(os.path.join(out, schema.MANIFEST_FILE))


@pytest.mark.parametrize('output', ['{v}', '{v}/base.csv', '{v}/base.csv/out', '{v}/..', '.'])
def test_output_that_overlaps_an_input_is_refused_before_any_work(user_folder, output,
                                                                  capsys, monkeypatch):
    monkeypatch.chdir(user_folder)
    before = snapshot(user_folder)
    code = cli.main(['explore', '--input', str(user_folder / 'base.csv'),
                     '--output', output.format(v=user_folder)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert snapshot(user_folder) == before


def test_a_folder_of_user_files_is_never_replaced(user_folder, tmp_path, capsys):
    data = write_csv(str(tmp_path / 'in.csv'), [('good film', 'positive')])
    before = snapshot(user_folder)
    assert cli.main(['explore', '--input', data, '--output', str(user_folder)]) == 2
    assert 'files of yours' in capsys.readouterr().err
    assert snapshot(user_folder) == before


def test_another_jobs_output_is_not_replaced(tmp_path, capsys):
    data = write_csv(str(tmp_path / 'in.csv'), [('good film', 'positive')])
    out = tmp_path / 'out'
    out.mkdir()
    (out / schema.MANIFEST_FILE).write_text(json.dumps({'job': 'score'}))
    assert cli.main(['explore', '--input', data, '--output', str(out)]) == 2
    assert 'imdb-sentiment score' in capsys.readouterr().err


def test_an_output_under_a_file_is_a_usage_error(tmp_path, capsys):
    data = write_csv(str(tmp_path / 'in.csv'), [('good film', 'positive')])
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    assert cli.main(['explore', '--input', data, '--output', str(blocker / 'out')]) == 2
    assert 'not a folder' in capsys.readouterr().err


@pytest.mark.parametrize('output', ['gs://some-bucket', 'gs://some-bucket/'])
def test_a_whole_bucket_is_refused_as_an_output(output, tmp_path, capsys):
    # Replacing the output would delete every object in the bucket; checked before any
    # request, so no store is needed.
    data = write_csv(str(tmp_path / 'in.csv'), [('good film', 'positive')])
    assert cli.main(['explore', '--input', data, '--output', output]) == 2
    err = capsys.readouterr().err
    assert 'is a whole bucket; name a folder in it, such as gs://some-bucket/explore' in err
    assert len(err.strip().splitlines()) == 1


def test_train_on_an_explore_output_is_a_usage_error(tmp_path, capsys):
    data = tmp_path / 'explore'
    data.mkdir()
    (data / schema.MANIFEST_FILE).write_text(json.dumps({'job': 'explore', 'status': 'ok'}))
    assert cli.main(['train', '--data', str(data), '--output', str(tmp_path / 'm')]) == 2
    err = capsys.readouterr().err
    assert 'imdb-sentiment explore' in err and 'Traceback' not in err


def test_a_nightly_root_and_an_ad_hoc_output_never_take_each_others_place(tmp_path):
    from pipeline.runtime.guard import check_nightly_root, check_output
    from transforms.errors import OutputError
    ad_hoc, root = tmp_path / 'adhoc', tmp_path / 'nightly'
    ad_hoc.mkdir()
    (ad_hoc / 'manifest.json').write_text(json.dumps({'job': 'score', 'status': 'ok'}))
    (root / 'dt=2026-11-24').mkdir(parents=True)
    (root / 'dt=2026-11-24' / 'manifest.json').write_text(json.dumps({'job': 'score'}))
    (root / 'history.json').write_text('{}')
    check_output(str(ad_hoc), 'score')           # its own earlier output: replaced
    check_nightly_root(str(root))                # partitions and the history: a root
    check_nightly_root(str(tmp_path / 'new'))    # nothing yet
    with pytest.raises(OutputError, match='root of nightly runs'):
        check_output(str(root), 'score')         # an undated run would delete the nights
    with pytest.raises(OutputError, match='without --date'):
        check_nightly_root(str(ad_hoc))          # a dated run inside an ad-hoc output
    (tmp_path / 'mine').mkdir()
    (tmp_path / 'mine' / 'notes.txt').write_text('mine')
    with pytest.raises(OutputError, match='not nightly partitions'):
        check_nightly_root(str(tmp_path / 'mine'))
    # An own earlier output that holds another run's published output is not replaced.
    (ad_hoc / 'kept').mkdir()
    (ad_hoc / 'kept' / 'manifest.json').write_text(json.dumps({'job': 'explore'}))
    with pytest.raises(OutputError, match='holds the output of another run'):
        check_output(str(ad_hoc), 'score')
