"""The signature header a receiver checks: HMAC-SHA256 of ``<timestamp>.<body>``.

The timestamp is signed with the body, so a captured delivery cannot be replayed
later with a new date; receivers should refuse ones older than a few minutes.

>>> header = sign(b"s3cret", 1712300000, b'{"a":1}')
>>> header
't=1712300000,v1=7fee0a5b8e6831df17d8a034f098fa275a01f61adab80edb287f410f2f5d48c7'
>>> verify(b"s3cret", header, b'{"a":1}', now=1712300010)
True
>>> verify(b"s3cret", header, b'{"a":2}', now=1712300010)
False
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["HEADER", "sign", "verify"]

HEADER = "X-Loanwatch-Signature"


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: bytes, header: str, body: bytes, *, now: int, tolerance_s: int = 300) -> bool:
    """What a receiver does: the header's signature matches and it is recent."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = sign(secret, timestamp, body)
    return abs(now - timestamp) <= tolerance_s and hmac.compare_digest(expected, header)
