"""Progressive metrics of a probabilistic binary model, each prediction judged before learning.

Log loss comes from `river.metrics`; the Brier score (mean squared error of
the probability) and precision at the alert threshold are kept here, since
river has no Brier score and its precision takes hard labels. ROC AUC is
`BinnedAUC`: river's ``ROCAUC`` updates one confusion matrix per threshold on
every label (50 of them, about 35 us a label, a third of what learning a label
cost), where counting the label in its score's bin is one addition and the
area is computed only when the figures are read. Checkpoints from before keep
the river metric they were saved with.

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

__all__ = ["BinnedAUC", "ProgressiveMetrics"]

metrics: Any = _metrics  # river's metrics are not annotated

_BINS = 1000


class BinnedAUC:
    """ROC AUC over scores counted in 1,000 equal bins of [0, 1].

    The area is the Mann-Whitney statistic with scores in one bin counted as
    ties (half a pair each), so it is exact for scores 0.001 apart or more.
    The interface is river's (``update(y, {True: p, ...})``, ``get()``), so
    `ProgressiveMetrics` reads either.

    >>> auc = BinnedAUC()
    >>> for p, y in [(0.9, True), (0.8, False), (0.3, False), (0.1, False), (0.7, True)]:
    ...     auc.update(y, {True: p, False: 1.0 - p})
    >>> auc.get()
    0.8333333333333334
    """

    def __init__(self) -> None:
        self.positives = [0] * _BINS
        self.negatives = [0] * _BINS

    def update(self, y: bool, y_pred: dict[bool, float]) -> None:
        p = y_pred.get(True, 0.0)
        index = min(max(int(p * _BINS), 0), _BINS - 1)
        if y:
            self.positives[index] += 1
        else:
            self.negatives[index] += 1

    def get(self) -> float:
        """The area, 0.0 until both classes have been seen."""
        total_pos, total_neg = sum(self.positives), sum(self.negatives)
        if not total_pos or not total_neg:
            return 0.0
        below = 0
        pairs = 0.0
        for pos, neg in zip(self.positives, self.negatives, strict=True):
            pairs += pos * (below + neg / 2.0)
            below += neg
        return pairs / (total_pos * total_neg)


class ProgressiveMetrics:
    """ROC AUC, log loss, Brier and precision at ``threshold``, updated one label at a time."""

    def __init__(self, threshold: float = 0.35) -> None:
        self.threshold = threshold
        self.auc: Any = BinnedAUC()
        self.log_loss: Any = metrics.LogLoss()
        self.n = 0
        self.squared = 0.0
        self.alerts = 0
        self.true_alerts = 0

    def update(self, y: bool, p: float) -> None:
        """Add one outcome ``y`` with the probability ``p`` predicted before it was known."""
        y = bool(y)
        proba = {True: p, False: 1.0 - p}
        self.auc.update(y, proba)
        self.log_loss.update(y, proba)
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
