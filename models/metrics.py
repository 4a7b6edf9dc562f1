"""Progressive metrics of a probabilistic binary model, each prediction judged before learning.

ROC AUC and log loss come from `river.metrics`; the Brier score (mean squared
error of the probability) and precision at the alert threshold are kept here,
since river has no Brier score and its precision takes hard labels.

Examples
--------
>>> m = ProgressiveMetrics(threshold=0.5)
>>> for p, y in [(0.9, True), (0.8, False), (0.3, False), (0.1, False), (0.7, True)]:
...     m.update(y, p)
>>> figures = m.to_dict()
>>> figures["n"], figures["roc_auc"], round(figures["brier"], 3), round(figures["precision"], 3)
(5, 0.8333333333333334, 0.168, 0.667)
"""

from __future__ import annotations

from typing import Any

from river import metrics as _metrics

__all__ = ["ProgressiveMetrics"]

metrics: Any = _metrics  # river's metrics are not annotated


class ProgressiveMetrics:
    """ROC AUC, log loss, Brier and precision at ``threshold``, updated one label at a time."""

    def __init__(self, threshold: float = 0.35) -> None:
        self.threshold = threshold
        self.auc: Any = metrics.ROCAUC(n_thresholds=50)
        self.log_loss: Any = metrics.LogLoss()
        self.n = 0
        self.squared = 0.0
        self.alerts = 0
        self.true_alerts = 0

    def update(self, y: bool, p: float) -> None:
        """Add one outcome ``y`` with the probability ``p`` predicted before it was known."""
        y = bool(y)
        self.auc.update(y, {True: p, False: 1.0 - p})
        self.log_loss.update(y, {True: p, False: 1.0 - p})
        self.n += 1
        self.squared += (p - y) ** 2
        if p >= self.threshold:
            self.alerts += 1
            self.true_alerts += y

    def to_dict(self) -> dict[str, Any]:
        """The figures as plain values (for ClickHouse rows and Redis hashes)."""
        return {
            "n": self.n,
            "roc_auc": float(self.auc.get()),
            "log_loss": float(self.log_loss.get()),
            "brier": self.squared / self.n if self.n else 0.0,
            "precision": self.true_alerts / self.alerts if self.alerts else 0.0,
            "threshold": self.threshold,
            "alerts": self.alerts,
        }
