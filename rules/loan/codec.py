"""A loan's state as bytes and back: the form the worker's table and changelog keep.

Compact JSON (orjson) starting with the format version (`FORMAT`); a reader
refuses any other version, so a layout change is a new number. Lists of
integers go out as they are (orjson writes them in C); the dedup memory and
the ledger are packed binary (base64), since their 64-bit hashes would take
three times the room as decimal text.

>>> loan_from_bytes(b"[99]")
Traceback (most recent call last):
...
rules.loan.codec.LoanStateError: unknown loan state format 99 (expected 1)
"""

from __future__ import annotations

import base64
import struct
from binascii import b2a_base64
from collections import deque
from datetime import date
from functools import lru_cache
from itertools import chain
from typing import Any, Final

import orjson

from rules.exceptions import RulesError
from rules.features import Features
from rules.loan.state import CORE, LoanState, Transition, core_values

__all__ = ["FORMAT", "LoanStateError", "loan_from_bytes", "loan_to_bytes"]

FORMAT: Final = 1
"""Version of the `loan_to_bytes` layout; `loan_from_bytes` refuses others."""

_ENTRY_FORMAT: Final = "qqBiqi"  # a ledger entry (`rules.loan.state.Entry`)
_ENTRY = struct.Struct(">" + _ENTRY_FORMAT)


class LoanStateError(RulesError):
    """Stored loan state could not be read (unknown format or corrupt bytes)."""


@lru_cache(maxsize=256)
def _packer(item: str, count: int) -> struct.Struct:
    """Big-endian, unpadded ``item`` repeated ``count`` times: a run packs in one call."""
    return struct.Struct(">" + item * count)


def loan_to_bytes(loan: LoanState) -> bytes:
    """``loan`` as bytes, `FORMAT` first (the layout: see the module docstring)."""
    seen = loan._seen
    ledger = _packer(_ENTRY_FORMAT, len(loan._ledger)).pack(*chain.from_iterable(loan._ledger))
    flags = (
        loan.klass_downgraded
        | loan.bucket_worsened << 1
        | loan.installment_missed << 2
        | loan.cured << 3
        | loan.promise_broken << 4
    )
    return orjson.dumps(
        [
            FORMAT,
            loan.loan_id,
            loan.borrower_id,
            loan.currency,
            loan.principal,
            loan.disbursed_on,
            loan._due,
            *loan._sched,
            [*core_values(loan), *loan._paid, loan._settled],
            loan._base,
            loan.third_party_repayments,
            loan._latest_t,
            loan._barrier_t,
            loan._barrier,
            seen.maxlen,
            b2a_base64(_packer("q", len(seen)).pack(*seen), newline=False).decode(),
            b2a_base64(ledger, newline=False).decode(),
            flags,
            [[t.kind, t.from_, t.to, t.on.toordinal(), t.event_id] for t in loan._transitions],
            loan.features.to_obj(),
        ]
    )


def loan_from_bytes(data: bytes) -> LoanState:
    """Read what `loan_to_bytes` wrote; raises `LoanStateError` for another format."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise LoanStateError(f"loan state is not valid JSON: {exc}") from None
    if not isinstance(obj, list) or not obj or obj[0] != FORMAT:
        found = obj[0] if isinstance(obj, list) and obj else type(obj).__name__
        raise LoanStateError(f"unknown loan state format {found!r} (expected {FORMAT})")
    try:
        return _from_obj(obj)
    except (ValueError, TypeError, IndexError, KeyError, struct.error) as exc:
        raise LoanStateError(f"corrupt loan state: {exc}") from None


def _from_obj(obj: list[Any]) -> LoanState:
    (
        _,
        loan_id,
        borrower_id,
        currency,
        principal,
        disbursed_on,
        due,
        fees,
        interest,
        principals,
        core,
        base,
        third_party,
        latest_t,
        barrier_t,
        barrier,
        seen_max,
        seen_b64,
        ledger_b64,
        flags,
        transitions,
        features,
    ) = obj
    seen_raw = base64.b64decode(seen_b64)
    ledger_raw = base64.b64decode(ledger_b64)
    seen: deque[int] = deque(struct.unpack(f">{len(seen_raw) // 8}q", seen_raw), maxlen=seen_max)
    size = len(CORE)
    # Positional, in field order: binding ~50 keywords would cost more than the rest.
    args: list[Any] = [
        loan_id,
        borrower_id,
        currency,
        principal,
        disbursed_on,
        Features.from_obj(features),
        due,
        (fees, interest, principals),
        (core[size], core[size + 1], core[size + 2]),
        core[size + 3],
        sum(principals),
        *core[:size],
        third_party,
        latest_t,
        barrier_t,
        barrier,
        seen,
        list(_ENTRY.iter_unpack(ledger_raw)),
        base,
        bool(flags & 1),
        bool(flags & 2),
        bool(flags & 4),
        bool(flags & 8),
        bool(flags & 16),
        [
            Transition(loan_id, kind, old, new, date.fromordinal(on), event_id)
            for kind, old, new, on, event_id in transitions
        ],
        set(seen),
    ]
    return LoanState(*args)
