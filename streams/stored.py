"""How a loan's record sits in the worker's table: a tiny header, then the record.

The header holds the Kafka partition the loan lives on and its next wake-up
day, so that after a restart or a rebalance the clock's index can be rebuilt
by reading headers only, without decoding every loan.

The models' pending labels of the loan (`models.labels.PendingLabels`), when
there are any, sit between header and record behind a length; the partition
field's top bit says they are there, so rows written without them still read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import date

__all__ = ["Stored", "frame", "header_only", "unframe"]

_HEADER = struct.Struct(">HI")  # partition, wake-up day ordinal (0 = none)
_LABELS = struct.Struct(">I")  # length of the labels section
_HAS_LABELS = 0x8000


@dataclass(frozen=True, slots=True)
class Stored:
    partition: int
    wakeup: date | None
    record: bytes
    labels: bytes = b""


def frame(partition: int, wakeup: date | None, record: bytes, labels: bytes = b"") -> bytes:
    """Prefix a record with its partition and wake-up day (and its labels, if any).

    >>> unframe(frame(3, date(2026, 5, 1), b"x"))
    Stored(partition=3, wakeup=datetime.date(2026, 5, 1), record=b'x', labels=b'')
    >>> unframe(frame(3, None, b"x", b"ll"))
    Stored(partition=3, wakeup=None, record=b'x', labels=b'll')
    """
    day = wakeup.toordinal() if wakeup else 0
    if not labels:
        return _HEADER.pack(partition, day) + record
    return _HEADER.pack(partition | _HAS_LABELS, day) + _LABELS.pack(len(labels)) + labels + record


def unframe(data: bytes) -> Stored:
    flagged, day = _HEADER.unpack_from(data)
    wakeup = date.fromordinal(day) if day else None
    if not flagged & _HAS_LABELS:
        return Stored(flagged, wakeup, data[_HEADER.size :])
    (size,) = _LABELS.unpack_from(data, _HEADER.size)
    start = _HEADER.size + _LABELS.size
    return Stored(flagged & ~_HAS_LABELS, wakeup, data[start + size :], data[start : start + size])


def header_only(data: bytes) -> tuple[int, date | None]:
    flagged, day = _HEADER.unpack_from(data)
    return flagged & ~_HAS_LABELS, date.fromordinal(day) if day else None
