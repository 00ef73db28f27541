"""Published nights of a nightly root without a pipeline: what the score job's finish writes
(metrics.json, drift.json, report.html, manifest.json) from a made-up summary of scored reviews;
and two rebuilds of a root's history racing each other."""

import argparse
import os
import threading
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from analysis.score_summary import ScoreSummaryFn
from pipeline.jobs import score_finish
from pipeline.nightly import PARTITION_PREFIX
from transforms import jsonio, schema


def summary(seed: int, noise: float = 0.2, reviews: int = 200) -> Dict:
    """The score job's summary of ``reviews`` made-up labelled scored reviews."""
    rng = np.random.default_rng(seed)
    fn = ScoreSummaryFn()
    acc = fn.create_accumulator()
    for _ in range(reviews):
        label = schema.POSITIVE if rng.random() < 0.5 else schema.NEGATIVE
        p = float(np.clip(rng.normal(0.7 if label == schema.POSITIVE else 0.3, noise), 0, 1))
        acc = fn.add_input(acc, {schema.PROBABILITY_KEY: p, schema.LABEL_KEY: label,
                                 schema.REVIEW_KEY: 'fine',
                                 schema.PREDICTED_KEY: schema.POSITIVE if p > 0.5
                                 else schema.NEGATIVE})
    return fn.extract_output(acc)


def publish(root: str, date: str, seed: int = 1, model: Optional[str] = None,
            created: Optional[str] = None) -> Tuple[str, Dict]:
    """Publishes the night ``date`` under ``root`` as a dated score run would (its drift
    against the night before found the score job's way); returns (its folder, manifest)."""
    part = os.path.join(root, f'{PARTITION_PREFIX}{date}')
    os.makedirs(part)
    manifest = {'counts': {'read': 200, 'accepted': 200, 'rejected': 0}, 'status': 'ok',
                'created': created or f'{date}T01:00:00+00:00', 'inputs': []}
    stats = {'summary': [summary(seed)], 'coverage': [{'tokens': 100, 'known_tokens': 90}]}
    args = argparse.Namespace(model=model or os.path.join(root, 'no-model'), output=root,
                              date=date)
    score_finish.finish(part, stats, manifest, args, root=root)
    jsonio.write_json(os.path.join(part, schema.MANIFEST_FILE), manifest)
    return part, manifest


def rebuilds_racing(root: str, publish_second: Callable[[], None], monkeypatch) -> Dict:
    """Two history rebuilds of ``root`` at once, in the order that loses a night without a
    lock: rebuild A lists the nights and stalls; meanwhile ``publish_second`` publishes a
    night and rebuild B runs; A then writes. Returns what each rebuild returned."""
    from pipeline import history
    listed, b_done = threading.Event(), threading.Event()
    gather = history.gather

    def gather_then_stall(path):
        nights = gather(path)
        if threading.current_thread().name == 'rebuild-a':
            listed.set()
            b_done.wait(5)  # B finishing first would leave A's stale listing to land last
        return nights

    monkeypatch.setattr(history, 'gather', gather_then_stall)
    results = {}
    a = threading.Thread(target=lambda: results.update(a=history.write_history(root)),
                         name='rebuild-a')
    a.start()
    try:
        assert listed.wait(60), 'rebuild A never listed the root'
        publish_second()
        results['b'] = history.write_history(root)
    finally:
        b_done.set()
        a.join(120)
    return results
