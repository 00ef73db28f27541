"""The local clusters keep their downloads where `imdb-sentiment download` keeps the archive."""

from pipeline.cluster.local import config
from pipeline.jobs import download


def test_the_clusters_cache_is_the_download_s(tmp_path, monkeypatch):
    monkeypatch.setenv(download.CACHE_ENV, str(tmp_path / 'cache'))
    assert config.RunDir(run_dir=str(tmp_path)).cache_dir == str(tmp_path / 'cache')
    monkeypatch.delenv(download.CACHE_ENV)
    assert config.RunDir(run_dir=str(tmp_path)).cache_dir == download.default_cache_dir()
