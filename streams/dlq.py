"""Dead letters: a rejected message, byte for byte, with why and where it came from.

The value is the original payload untouched, so a fixed producer's message can
be replayed as it was; everything we add travels in headers, under ``lw.``:
the reason, each field at fault (JSON), the source topic/partition/offset and
when it was rejected. Building the record is pure; the stream adapter sends it.

>>> from rules import EventDecodeError, FieldError
>>> letter = dead_letter(
...     b'{"x": 1}', b"L1", Origin("postloan.events", 2, 17),
...     EventDecodeError([FieldError("type", "field required")]),
...     datetime(2026, 1, 5, tzinfo=UTC),
... )
>>> letter.value, dict(letter.headers)["lw.error"]
(b'{"x": 1}', b'type: field required')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from rules import EventDecodeError

__all__ = ["DeadLetter", "Origin", "dead_letter"]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a message was read from."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One message for the dead-letter topic, ready to send."""

    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> bytes | None:
        return next((value for key, value in self.headers if key == name), None)


def dead_letter(
    raw: bytes | None,
    key: bytes | None,
    origin: Origin,
    error: EventDecodeError,
    rejected_at: datetime,
) -> DeadLetter:
    """Wrap a rejected message; ``raw`` is kept exactly (an empty value stays empty)."""
    fields = [{"field": e.field, "reason": e.reason} for e in error.errors]
    headers: list[tuple[str, bytes]] = [
        ("lw.error", str(error).encode()),
        ("lw.error.fields", orjson.dumps(fields)),
        ("lw.source.topic", origin.topic.encode()),
        ("lw.source.partition", str(origin.partition).encode()),
        ("lw.source.offset", str(origin.offset).encode()),
        ("lw.rejected_at", rejected_at.astimezone(UTC).isoformat().encode()),
    ]
    for name, found in (
        ("lw.event_id", error.event_id),
        ("lw.loan_id", error.loan_id),
        ("lw.event_type", error.event_type),
    ):
        if found is not None:
            headers.append((name, found.encode()))
    return DeadLetter(key=key, value=raw or b"", headers=tuple(headers))
