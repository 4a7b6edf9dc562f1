"""What one step of the core becomes on Kafka: (topic, key, value) triples.

Serialization happens here and only here (orjson), so the warnings contract in
docs/warnings.md has one source. Every output is keyed by loan_id, so one
loan's warnings, transitions and actions stay in order on one partition.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from config import Settings
from rules.core import StepResult

__all__ = ["Output", "outputs_of"]


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
