"""What every benchmark's result file holds: read one back and check its header."""

import json


def benchmark_result(path) -> dict:
    """The JSON a benchmark wrote to ``path``, with the header every result starts with."""
    with open(path, encoding='utf-8') as f:
        result = json.load(f)
    assert {'benchmark', 'created', 'command', 'versions'} <= set(result), result
    return result
