"""imdb-sentiment: package metadata, pinned dependencies and the console script.

The same file is staged to Dataflow and Flink workers with ``--setup_file ./setup.py``,
so the workers install exactly the packages and versions the launcher runs.
"""

import setuptools

# Versions known to install and run together on Python 3.11; constraints.txt pins
# the whole dependency tree for a reproducible environment.
REQUIRED = [
    'apache-beam[gcp]==2.77.0',
    'tensorflow==2.21.0',
    'tensorflow-transform==1.21.0',
    'tfx-bsl==1.21.0',
    'tensorboard==2.21.0',   # TensorFlow 2.21 no longer depends on it; the trainer logs to it
    'pandas==3.1.1',
    'scikit-learn==1.9.1',
    'matplotlib==3.11.2',
    'jinja2==3.1.6',
    'simplemma==2.0.0',
]

setuptools.setup(
    name='imdb-sentiment',
    version='0.1.0',
    description='Sentiment analysis of movie reviews as a distributed batch job '
                '(Apache Beam, tf.Transform, Keras LSTM).',
    python_requires='>=3.11,<3.12',
    packages=setuptools.find_packages(include=['pipeline', 'pipeline.*', 'transforms',
                                               'transforms.*', 'trainer', 'trainer.*',
                                               'analysis', 'analysis.*']),
    install_requires=REQUIRED,
    extras_require={'test': ['pytest==9.2.0', 'hypothesis==6.170.17',
                             'pytest-xdist==3.8.0']},
    entry_points={'console_scripts': ['imdb-sentiment=pipeline.cli:main']},
)
