"""Redis sink: a per-loan lookup view of the warnings, kept by `RedisWriter`, read by `lookup`.

The same writer applies bucket and class transitions to the cards (`parse_transition`)
and keeps each model's latest metrics per partition (`latest_metrics`).

Key layout: docs/redis.md (`sinks.redis.keys`).
"""

from __future__ import annotations

from sinks.redis.keys import (
    KLASS_RANK,
    RECENT_LIMIT,
    SEVERITY_WEIGHT,
    STREAM_MAXLEN,
    TERMINAL_RULES,
    RedisKeys,
    risk_score,
)
from sinks.redis.lookup import (
    NO_CARD,
    borrower,
    latest_metrics,
    latest_metrics_command,
    lookup,
    lookup_command,
    top_risk,
)
from sinks.redis.model_metrics import BadMetrics, ParsedMetrics, parse_model_metrics
from sinks.redis.transitions import BadTransition, ParsedTransition, parse_transition
from sinks.redis.writer import DrainResult, RedisWriter, parse_warning, run

__all__ = [
    "KLASS_RANK",
    "NO_CARD",
    "RECENT_LIMIT",
    "SEVERITY_WEIGHT",
    "STREAM_MAXLEN",
    "TERMINAL_RULES",
    "BadMetrics",
    "BadTransition",
    "DrainResult",
    "ParsedMetrics",
    "ParsedTransition",
    "RedisKeys",
    "RedisWriter",
    "borrower",
    "latest_metrics",
    "latest_metrics_command",
    "lookup",
    "lookup_command",
    "parse_model_metrics",
    "parse_transition",
    "parse_warning",
    "risk_score",
    "run",
    "top_risk",
]
