"""The official Stanford archive that ``imdb-sentiment download`` fetches: where it is, what it
weighs, and where it is kept (the flags, the download and the local clusters' downloads read
these; no other import)."""

import os

URL = 'https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz'
ARCHIVE_NAME = 'aclImdb_v1.tar.gz'
# Size and SHA-256 as recorded by tensorflow_datasets, which verifies every download of
# this archive: tensorflow_datasets/datasets/imdb_reviews/checksums.tsv (formerly
# tensorflow_datasets/url_checksums/imdb_reviews.txt); both files agree.
SIZE = 84125825
SHA256 = 'c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe'
EXTRACTED_DIR = 'aclImdb'
CACHE_ENV = 'IMDB_SENTIMENT_CACHE'


def default_cache_dir() -> str:
    """``$IMDB_SENTIMENT_CACHE`` if set, else ``~/.cache/imdb-sentiment``."""
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser('~'), '.cache',
                                                     'imdb-sentiment')
