"""Model metrics records for the Redis view: checked here, so Redis never stores a bad one.

The worker publishes each partition hub's figures at every checkpoint
(streams/model_metrics.py). On-call staff want the newest of them, for every
model, at once: the view keeps one hash, ``model_metrics``, whose fields are the
records' Kafka keys (``pd/p3``, the subject of a drift warning about that hub is
``model:pd/p3``) and whose values are the records' JSON. One ``HGETALL`` answers
for every model and partition; there are a handful of fields (models times
partitions), so reading them all is as cheap as reading one.

"Latest" needs no comparison in Redis: the records of one hub share a key, so
Kafka keeps them in one partition in the order they were produced, and a
redelivered or replayed batch repeats them in that order; the last write is the
newest record.

>>> parsed = parse_model_metrics(b'{"schema_version": 1, "model": "pd", "partition": 3, '
...     b'"model_version": "pd-logistic.40/intent.0", "n": 40, "roc_auc": 0.71, '
...     b'"produced_at": "2026-03-02T09:00:00+00:00"}')
>>> parsed.field, orjson.loads(parsed.body)["roc_auc"]
('pd/p3', 0.71)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson

from sinks.redis.messages import json_object

__all__ = ["FIGURES", "BadMetrics", "ParsedMetrics", "parse_model_metrics"]

FIGURES = ("roc_auc", "log_loss", "brier", "precision", "threshold", "alerts", "accuracy")
"""The figure fields a record may carry, each a number or null."""

_REQUIRED = ("model", "partition", "model_version", "n", "produced_at")


class BadMetrics(ValueError):
    """A message that is not a model metrics record; skipped, never retried."""


@dataclass(frozen=True, slots=True)
class ParsedMetrics:
    """A checked record: its hash field (``<model>/p<partition>``) and compact JSON."""

    field: str
    body: bytes


def parse_model_metrics(value: bytes | None) -> ParsedMetrics:
    """Decode and check one model metrics message; raise `BadMetrics` with the reason."""
    body = json_object(value, BadMetrics)
    missing = [name for name in _REQUIRED if name not in body]
    if missing:
        raise BadMetrics(f"missing field {missing[0]!r}")
    model, partition, n = body["model"], body["partition"], body["n"]
    if not isinstance(model, str) or not model or "/" in model:
        raise BadMetrics("model must be a non-empty string without '/'")
    for name, number in (("partition", partition), ("n", n)):
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            raise BadMetrics(f"{name} must be a non-negative integer")
    if not isinstance(body["model_version"], str):
        raise BadMetrics("model_version must be a string")
    for name in FIGURES:
        figure = body.get(name)
        if figure is not None and (not isinstance(figure, int | float) or isinstance(figure, bool)):
            raise BadMetrics(f"{name} must be a number or null")
    produced_at = body["produced_at"]
    try:
        aware = datetime.fromisoformat(produced_at).tzinfo is not None
    except (TypeError, ValueError):
        raise BadMetrics(f"produced_at is not an ISO-8601 time: {produced_at!r}") from None
    if not aware:
        raise BadMetrics(f"produced_at without a UTC offset: {produced_at!r}")
    # Compact, key-sorted: the same record always stores the same bytes.
    return ParsedMetrics(f"{model}/p{partition}", orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
