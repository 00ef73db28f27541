"""Reading what the jobs wrote, for the tests: one helper module, used by every test file."""

import glob
import json
from typing import Dict, List


def read_json(path) -> Dict:
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def read_jsonl(pattern) -> List[Dict]:
    """Every row of the JSON Lines files matching ``pattern``, files in name order.

    Split on '\\n' alone, as the jobs' own reader does: a review may hold U+2028 or U+0085."""
    rows = []
    for path in sorted(glob.glob(str(pattern))):
        with open(path, encoding='utf-8') as f:
            rows.extend(json.loads(line) for line in f.read().split('\n') if line.strip())
    return rows
