"""Drift detection: ADWIN over each model's running error and over key feature values.

`DriftMonitor` keeps one `river.drift.ADWIN` per (model, metric) stream. When
ADWIN cuts its window, the mean of the part it dropped (``before``) and of the
part it kept (``after``) are reported as a `Drift` value (for an error
metric, only when it got worse); the worker turns it into a warning for the
model owners (team ``models``). Nothing is sent from here: the monitor
returns values and the caller drains them.

Examples
--------
>>> from datetime import UTC, datetime
>>> monitor = DriftMonitor()
>>> now = datetime(2026, 3, 1, tzinfo=UTC)
>>> for i in range(2000):
...     _ = monitor.update("pd", "log_loss", 0.2 if i < 1000 else 0.9, now)
>>> d = monitor.drain()[0]
>>> d.model, d.metric, round(d.before, 2), d.after > 0.3
('pd', 'log_loss', 0.2, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from river import drift as _drift

__all__ = ["Drift", "DriftMonitor"]

drift: Any = _drift  # river's detectors are not annotated


@dataclass(frozen=True, slots=True)
class Drift:
    """A change in a model's error or in a feature's distribution, for team ``models``."""

    model: str
    metric: str
    before: float
    after: float
    detected_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "metric": self.metric,
            "before": self.before,
            "after": self.after,
            "detected_at": self.detected_at.isoformat(),
        }


class DriftMonitor:
    """One ADWIN per (model, metric); detected drifts wait in a list until drained."""

    def __init__(self, delta: float = 0.002) -> None:
        self.delta = delta
        self.detectors: dict[tuple[str, str], Any] = {}
        self.pending: list[Drift] = []

    def update(
        self, model: str, metric: str, value: float, now: datetime, *, rising_only: bool = False
    ) -> Drift | None:
        """Add one observation; returns the `Drift` when this one made ADWIN cut its window.

        With ``rising_only`` (for error metrics) a change for the better, such as
        a model still learning, is not reported.
        """
        key = (model, metric)
        detector = self.detectors.get(key)
        if detector is None:
            detector = self.detectors[key] = drift.ADWIN(delta=self.delta)
        old_mean, old_width = detector.estimation, detector.width
        detector.update(value)
        if not detector.drift_detected:
            return None
        kept_mean, kept_width = detector.estimation, detector.width
        # The mean of what was cut, from the totals before and after the cut.
        cut = old_width + 1 - kept_width
        before = (old_mean * old_width + value - kept_mean * kept_width) / cut if cut else old_mean
        if rising_only and kept_mean <= before:
            return None
        found = Drift(model, metric, before, kept_mean, now)
        self.pending.append(found)
        return found

    def drain(self) -> list[Drift]:
        """Hand over the drifts detected since the last drain."""
        out, self.pending = self.pending, []
        return out
