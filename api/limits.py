"""Requests per caller per minute, counted in Redis so every API process shares them.

A fixed one-minute window per caller (``<prefix>api:rate:<subject>:<minute>``,
``INCR`` then ``EXPIRE``), queued on the same pipeline as the key lookup, so an API
key's limit costs no extra round trip. Fixed windows let a caller send up to twice
its limit across a window's edge; that is the price of one counter per minute
instead of a sorted set per request. Past the limit the answer is 429 with
``Retry-After`` (the seconds to the next window).

>>> window(1712300012.5)
(28538333, 27)
"""

from __future__ import annotations

from typing import Any

__all__ = ["count_on", "window"]

TTL_S = 120
"""Counters outlive their minute a little, for clocks that differ between processes."""


def window(now: float) -> tuple[int, int]:
    """The minute ``now`` falls in, and the whole seconds left until the next one."""
    minute = int(now // 60)
    return minute, max(1, int((minute + 1) * 60 - now))


def count_on(pipe: Any, prefix: str, subject: str, minute: int) -> None:
    """Queue the count of one request of ``subject`` in ``minute`` on ``pipe`` (two replies)."""
    key = f"{prefix}api:rate:{subject}:{minute}"
    pipe.incr(key)
    pipe.expire(key, TTL_S)
