"""The measures of a scoring run, declared once, as the TFX template declares its features.

Each row says what a measure is called, how its value is written, which way is better, and
where it is shown. Every reader takes its list from ``MEASURES``, through the functions
below, when it runs: the score report's headline and drift table (``analysis.score_report``),
the score manifest's metrics (``pipeline.jobs.score_finish``), the gate's side-by-side table,
its checks' wording and its report (``analysis.gate``, ``analysis.gate_report``), drift.json
and its alerts (``analysis.drift``), the nights' history and its page (``pipeline.history``,
``analysis.history_report``) and the run index (``pipeline.jobs.run_folder``,
``analysis.run_index``). A new measure is one row here plus its computation in
``analysis.metrics.summarize``; every list shows the rows in this order.
"""

import dataclasses
from typing import Dict, List, Optional, Tuple

RATE, COUNT = '{:.4f}', '{:,}'   # the two ways a value is written
MISSING = '–'                    # a value that was not measured


@dataclasses.dataclass(frozen=True)
class Measure:
    """One measure: its key in metrics.json and every file derived from it (the manifest's
    metrics, comparison.json, drift.json, history.json), and how it is shown."""
    key: str
    label: str                          # its name on every page
    fmt: str                            # RATE or COUNT
    higher_is_better: Optional[bool]    # the colour of a change; None: neither way is better
    # The score report's headline; the manifest's metrics too, but for counts (the
    # manifest's counts hold those).
    headline: bool = False
    path: Tuple[str, ...] = ()          # where metrics.json holds it, when not at ``key``
    needs_labels: bool = False          # measured on labelled reviews only
    gate: bool = False                  # the gate sets the two models' values side by side
    nightly: bool = False               # followed night over night: drift.json, the history
    # A night-over-night change this large the worse way (either way, without a direction)
    # is a drift alert.
    drift_alert: Optional[float] = None
    indexed: bool = False               # a column of the run index's table of scored sets

    def value(self, metrics: Optional[Dict]) -> Optional[float]:
        """Its value in a metrics block (metrics.json), or None when it was not measured."""
        found = metrics
        for step in self.path or (self.key,):
            found = found.get(step) if isinstance(found, dict) else None
        return found

    def format(self, value: Optional[float], signed: bool = False) -> str:
        """A value as every page writes it; ``signed`` for a change (+0.0123, -5)."""
        if value is None:
            return MISSING
        return (self.fmt.replace('{:', '{:+', 1) if signed else self.fmt).format(value)

    @property
    def is_count(self) -> bool:
        """A number of reviews (the manifest keeps those under its counts)."""
        return self.fmt == COUNT


ACCURACY = Measure('accuracy', 'accuracy', RATE, True, headline=True, needs_labels=True,
                   gate=True, nightly=True, indexed=True)
ROC_AUC = Measure('roc_auc', 'ROC AUC', RATE, True, headline=True, needs_labels=True,
                  gate=True, indexed=True)
SCORED = Measure('scored', 'reviews scored', COUNT, None, headline=True)
ECE = Measure('ece', 'expected calibration error', RATE, False, headline=True,
              path=('calibration', 'ece'), needs_labels=True, gate=True)
MEASURES: Tuple[Measure, ...] = (
    ACCURACY,
    ROC_AUC,
    Measure('average_precision', 'average precision', RATE, True, headline=True,
            needs_labels=True, gate=True),
    Measure('log_loss', 'log loss', RATE, False, headline=True, needs_labels=True, gate=True),
    Measure('positive_rate', 'positive rate', RATE, None, headline=True, gate=True,
            nightly=True, drift_alert=0.1, indexed=True),
    Measure('vocabulary_coverage', 'vocabulary coverage', RATE, True, headline=True,
            nightly=True, drift_alert=0.02),
    SCORED,
    Measure('labelled', 'labelled reviews', COUNT, None, headline=True),
    ECE,
)


def named(key: str) -> Measure:
    """The row of ``key`` (KeyError for a key no row has)."""
    for measure in MEASURES:
        if measure.key == key:
            return measure
    raise KeyError(f'no measure {key!r} in analysis.measures.MEASURES')


def headline() -> List[Measure]:
    return [m for m in MEASURES if m.headline]


def gated() -> List[Measure]:
    return [m for m in MEASURES if m.gate]


def nightly() -> List[Measure]:
    return [m for m in MEASURES if m.nightly]


def indexed() -> List[Measure]:
    return [m for m in MEASURES if m.indexed]


def manifest_metrics(metrics: Dict) -> Dict[str, float]:
    """A manifest's metrics, by key: the nightly measures (the history reads them there)
    and the headline ones but the counts (the manifest's counts hold those), when measured."""
    kept = [m for m in MEASURES if m.nightly or (m.headline and not m.is_count)]
    return {m.key: m.value(metrics) for m in kept if m.value(metrics) is not None}
