"""A partition hub's progressive metrics as records for the model metrics topic.

The hub keeps its figures (`models.hub.ModelHub.metrics`) in memory, where nobody
on call or in analytics can see them. The worker therefore publishes them, like
every other output, to Kafka (``risk.model_metrics``), and the sinks take them
from there: ClickHouse keeps every record (``model_metrics``, the history),
Redis the latest per model and partition (docs/redis.md). The sinks never read
the worker's state.

Records are made at each checkpoint of a partition's hub
(`streams.scoring.PartitionModels.checkpoint`): that happens every
``model_checkpoint_steps`` steps of the partition, so it is periodic, costs two
small messages per checkpoint, and each record describes exactly the model
state a restart would come back to.

A figure that is not defined yet is ``None`` (JSON null), never a made-up 0.0:
before the first label every PD figure, before the first score at or above the
threshold the precision, and before the first collector label the intent
accuracy. Analysts' ``avg()`` then skips them instead of averaging zeros in.

Examples
--------
>>> from datetime import UTC, datetime
>>> from models.hub import ModelHub
>>> now = datetime(2026, 3, 2, 9, tzinfo=UTC)
>>> pd, pd_current, intent = partition_metrics(ModelHub(), 3, now)
>>> pd.key, pd.n, pd.roc_auc, pd.threshold, pd_current.key, intent.key, intent.accuracy
('pd/p3', 0, None, 0.35, 'pd_current/p3', 'intent/p3', None)
>>> body = pd.to_dict()
>>> body["model_version"], body["produced_at"]
('pd-logistic.0/intent.0', '2026-03-02T09:00:00+00:00')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from models.hub import ModelHub

__all__ = ["ModelMetrics", "partition_metrics"]


@dataclass(frozen=True, slots=True)
class ModelMetrics:
    """One model's figures on one partition at one checkpoint (the topic's wire record).

    ``roc_auc``, ``log_loss``, ``brier``, ``precision``, ``threshold`` and
    ``alerts`` are the PD's; ``accuracy`` is the intent model's; the others'
    fields are ``None``.
    """

    model: str
    partition: int
    model_version: str
    n: int
    produced_at: datetime
    roc_auc: float | None = None
    log_loss: float | None = None
    brier: float | None = None
    precision: float | None = None
    threshold: float | None = None
    alerts: int | None = None
    accuracy: float | None = None

    @property
    def key(self) -> str:
        """``<model>/p<partition>``: the Kafka key, so one hub's records stay in order."""
        return f"{self.model}/p{self.partition}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready mapping (time as ISO-8601), the wire format of the topic."""
        return {
            "schema_version": 1,
            "model": self.model,
            "partition": self.partition,
            "model_version": self.model_version,
            "n": self.n,
            "roc_auc": self.roc_auc,
            "log_loss": self.log_loss,
            "brier": self.brier,
            "precision": self.precision,
            "threshold": self.threshold,
            "alerts": self.alerts,
            "accuracy": self.accuracy,
            "produced_at": self.produced_at.isoformat(),
        }


def partition_metrics(hub: ModelHub, partition: int, now: datetime) -> tuple[ModelMetrics, ...]:
    """The PD's (all snapshots, then those of current loans) and the intent model's
    records for ``hub``, the hub of ``partition``."""
    figures = hub.metrics()
    intent = figures["intent"]
    record = partial(ModelMetrics, partition=partition, produced_at=now)
    return (
        _pd_record(record, "pd", figures["pd"]),
        _pd_record(record, "pd_current", figures["pd_current"]),
        record(
            model="intent",
            model_version=intent["model_version"],
            n=intent["n"],
            accuracy=_defined(intent["accuracy"], intent["n"] > 0),
        ),
    )


def _pd_record(record: Any, model: str, pd: dict[str, Any]) -> ModelMetrics:
    scored = pd["n"] > 0
    return record(  # type: ignore[no-any-return]
        model=model,
        model_version=pd["model_version"],
        n=pd["n"],
        roc_auc=_defined(pd["roc_auc"], scored),
        log_loss=_defined(pd["log_loss"], scored),
        brier=_defined(pd["brier"], scored),
        precision=_defined(pd["precision"], pd["alerts"] > 0),
        threshold=pd["threshold"],
        alerts=pd["alerts"],
    )


def _defined(value: float, known: bool) -> float | None:
    """``value`` when it means something: known, and a finite number (JSON has no NaN)."""
    return float(value) if known and math.isfinite(value) else None
