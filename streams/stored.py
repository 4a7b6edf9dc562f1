"""How a loan's record sits in the worker's table: a tiny header, then the record.

The header holds the Kafka partition the loan lives on and its next wake-up
day, so that after a restart or a rebalance the clock's index can be rebuilt
by reading headers only, without decoding every loan.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import date

__all__ = ["Stored", "frame", "header_only", "unframe"]

_HEADER = struct.Struct(">HI")  # partition, wake-up day ordinal (0 = none)


@dataclass(frozen=True, slots=True)
class Stored:
    partition: int
    wakeup: date | None
    record: bytes


def frame(partition: int, wakeup: date | None, record: bytes) -> bytes:
    """Prefix a record with its partition and wake-up day.

    >>> unframe(frame(3, date(2026, 5, 1), b"x"))
    Stored(partition=3, wakeup=datetime.date(2026, 5, 1), record=b'x')
    """
    return _HEADER.pack(partition, wakeup.toordinal() if wakeup else 0) + record


def unframe(data: bytes) -> Stored:
    partition, day = _HEADER.unpack_from(data)
    return Stored(partition, date.fromordinal(day) if day else None, data[_HEADER.size :])


def header_only(data: bytes) -> tuple[int, date | None]:
    partition, day = _HEADER.unpack_from(data)
    return partition, date.fromordinal(day) if day else None
