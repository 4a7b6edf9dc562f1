"""Bucket and class transitions for the Redis view: checked here, so Redis never sees a bad one.

A loan can roll from M1 to M2, or be downgraded, on a day no rule fires; the
card must still show it. The worker stamps each transition with the loan's
state after its step and the step's times (docs/warnings.md), the same values
its warnings carry, so the writer can order a transition among the warnings by
event time and apply the newest state whichever topic it came from
(docs/redis.md, "Transitions").

A transition has no id on the wire. Its identity here is (kind, from, to, day,
event time, event id): a redelivery or a replay repeats all of them, while a
change made again later (back to M2 after a reversed payment) differs at least
in its event time.

>>> parsed = parse_transition(b'{"schema_version": 1, "loan_id": "L-1", "borrower_id": "bw-1", '
...     b'"kind": "bucket", "from": "M1", "to": "M2", "on": "2026-04-03", "event_id": null, '
...     b'"dpd": 31, "bucket": "M2", "klass": "special_mention", '
...     b'"event_time": "2026-04-02T16:00:00+00:00", "produced_at": "2026-04-03T00:00:01+00:00"}')
>>> parsed.transition_id, parsed.event_ms, parsed.dpd
('bucket:M1>M2:2026-04-03:1775145600000:', 1775145600000, 31)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import orjson

from sinks.redis.messages import json_object

__all__ = ["KINDS", "BadTransition", "DatedState", "ParsedTransition", "parse_transition"]

KINDS = ("bucket", "klass")
"""What a transition may change."""

_STRINGS = ("loan_id", "kind", "from", "to", "bucket", "klass", "on", "event_time")


class BadTransition(ValueError):
    """A message that is not a docs/warnings.md transition; skipped, never retried."""


@dataclass(frozen=True, slots=True)
class DatedState:
    """What every record applied to a card carries: the loan's state and when it held.

    Warnings and transitions both state a loan's ``dpd``, ``bucket`` and ``klass`` as
    of their ``event_time`` (``event_ms`` to compare), which is how the scripts pick
    the newest; ``body`` is the record as stored (compact, key-sorted JSON).
    """

    loan_id: str
    borrower_id: str
    body: bytes
    event_ms: int
    event_time: str
    dpd: int
    bucket: str
    klass: str
    produced_at: str


@dataclass(frozen=True, slots=True)
class ParsedTransition(DatedState):
    """The fields the apply script needs, validated in Python so Redis never sees bad input."""

    transition_id: str


def parse_transition(value: bytes | None) -> ParsedTransition:
    """Decode and check one ``risk.transitions`` message; raise `BadTransition` with the reason."""
    body = json_object(value, BadTransition)
    missing = [name for name in (*_STRINGS, "borrower_id", "dpd") if name not in body]
    if missing:
        raise BadTransition(f"missing field {missing[0]!r}")
    for name in _STRINGS:
        if not isinstance(body[name], str) or not body[name]:
            raise BadTransition(f"{name} must be a non-empty string")
    if body["kind"] not in KINDS:
        raise BadTransition(f"unknown kind {body['kind']!r}")
    if not isinstance(body["borrower_id"], str):
        raise BadTransition("borrower_id must be a string")
    dpd = body["dpd"]
    if not isinstance(dpd, int) or isinstance(dpd, bool):
        raise BadTransition("dpd must be an integer")
    event_id = body.get("event_id")
    if event_id is not None and not isinstance(event_id, str):
        raise BadTransition("event_id must be a string or null")
    try:
        on = date.fromisoformat(body["on"])
    except ValueError:
        raise BadTransition(f"on is not an ISO date: {body['on']!r}") from None
    try:
        when = datetime.fromisoformat(body["event_time"])
    except ValueError:
        raise BadTransition(f"event_time is not an ISO-8601 time: {body['event_time']!r}") from None
    if when.tzinfo is None:
        raise BadTransition(f"event_time without a UTC offset: {body['event_time']!r}")
    event_ms = int(when.timestamp() * 1000)
    return ParsedTransition(
        loan_id=body["loan_id"],
        borrower_id=body["borrower_id"],
        transition_id=(
            f"{body['kind']}:{body['from']}>{body['to']}:{on.isoformat()}:{event_ms}:"
            f"{event_id or ''}"
        ),
        # Compact, key-sorted: the same transition always stores the same bytes.
        body=orjson.dumps(body, option=orjson.OPT_SORT_KEYS),
        event_ms=event_ms,
        event_time=when.astimezone(UTC).isoformat(),
        dpd=dpd,
        bucket=body["bucket"],
        klass=body["klass"],
        produced_at=str(body.get("produced_at") or ""),
    )
