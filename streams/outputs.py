"""What one step of the core becomes on Kafka: (topic, key, value) triples.

Serialization happens here and only here (orjson), so the warnings contract in
docs/warnings.md has one source. Every output is keyed by loan_id, so one
loan's warnings, transitions and actions stay in order on one partition; model
metrics are keyed by ``<model>/p<partition>``, so one hub's figures stay in order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from config import Settings
from rules.core import StepResult
from streams.model_metrics import ModelMetrics

__all__ = ["Output", "metrics_outputs", "outputs_of"]


@dataclass(frozen=True, slots=True)
class Output:
    topic: str
    key: bytes
    value: bytes


def outputs_of(result: StepResult, settings: Settings) -> list[Output]:
    """The messages one step produces, in a stable order."""
    topics = settings.topics
    out = [
        Output(topics.warnings, w.loan_id.encode(), orjson.dumps(w.to_dict()))
        for w in result.warnings
    ]
    out.extend(
        Output(
            topics.transitions,
            t.loan_id.encode(),
            orjson.dumps({"schema_version": 1, **t.to_dict()}),
        )
        for t in result.transitions
    )
    out.extend(
        Output(topics.actions, a.loan_id.encode(), orjson.dumps(a.to_dict()))
        for a in result.actions
    )
    return out


def metrics_outputs(records: Iterable[ModelMetrics], settings: Settings) -> list[Output]:
    """The model metrics topic's messages for checkpointed hubs' figures, in order."""
    topic = settings.topics.model_metrics
    return [Output(topic, r.key.encode(), orjson.dumps(r.to_dict())) for r in records]
