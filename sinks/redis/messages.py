"""The first check every Redis-view parser makes: is the message a JSON object at all.

The warnings, transitions and model metrics parsers (`sinks.redis.writer`,
`sinks.redis.transitions`, `sinks.redis.model_metrics`) each raise their own
error type, so a skipped message is logged with its topic's reason; this one
function gives those reasons the same words for the same faults.

>>> json_object(b'[1]', ValueError)
Traceback (most recent call last):
ValueError: not a JSON object
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["json_object"]


def json_object(value: bytes | None, error: type[ValueError]) -> dict[str, Any]:
    """The message as a JSON object, or ``error`` saying why it is not one."""
    if not value:
        raise error("empty message")
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise error(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise error("not a JSON object")
    return body
