"""Redis sink: a per-loan lookup view of the warnings, kept by `RedisWriter`, read by `lookup`.

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
from sinks.redis.lookup import borrower, lookup, lookup_command
from sinks.redis.writer import DrainResult, RedisWriter, parse_warning, run

__all__ = [
    "KLASS_RANK",
    "RECENT_LIMIT",
    "SEVERITY_WEIGHT",
    "STREAM_MAXLEN",
    "TERMINAL_RULES",
    "DrainResult",
    "RedisKeys",
    "RedisWriter",
    "borrower",
    "lookup",
    "lookup_command",
    "parse_warning",
    "risk_score",
    "run",
]
