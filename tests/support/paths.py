"""Where things are, for tests that run a command or read the repository's own files."""

import os

# The repository's root: the working directory of the commands tests start.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCHMARK_RESULTS = os.path.join(ROOT, 'benchmarks', 'results')
