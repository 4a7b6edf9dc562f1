"""Decoded loan records kept beside the table, so a busy loan is not decoded at every event.

Decoding a loan's stored bytes costs more than judging most events (tens of
microseconds for a loan with a year of history), and the worker reads the same
loans again and again. The cache maps a loan key to the exact bytes it last
wrote and the record they decode to. The table stays the truth: a cached record
is used only when the table still holds those very bytes, so a row restored from
the changelog after a rebalance, or written by anyone else, is decoded afresh.

The engine steps records in place, so the worker *takes* a record out of the
cache before a step and puts it back only after the table write: a step that
did not end in a table write (a rejection, a duplicate, an exception, a
cancelled send) leaves nothing behind that the table never saw.

>>> cache = RecordCache(capacity=2, decode=lambda raw: raw.decode())
>>> cache.get(b"a", b"one")
'one'
>>> cache.put(b"a", b"one", "ONE")  # what the worker wrote, and its record
>>> cache.get(b"a", b"one")  # the table still holds those bytes: cached
'ONE'
>>> cache.get(b"a", b"two")  # the table changed behind the cache: decoded
'two'
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["RecordCache"]

R = TypeVar("R")


class RecordCache(Generic[R]):
    """A bounded least-recently-used map of key -> (stored bytes, decoded record)."""

    def __init__(self, capacity: int, decode: Callable[[bytes], R]) -> None:
        self._capacity = capacity
        self._decode = decode
        self._entries: OrderedDict[bytes, tuple[bytes, R]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes, stored: bytes) -> R:
        """The record for ``stored`` (the table's current bytes for ``key``)."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] == stored:
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]
        self.misses += 1
        self._entries.pop(key, None)
        return self._decode(stored)

    def take(self, key: bytes, stored: bytes) -> R:
        """Like `get`, but the entry leaves the cache: the caller is about to change
        the record in place, and puts it back only once the table holds the result,
        so a step that fails half-way can never leave a changed record behind."""
        entry = self._entries.pop(key, None)
        if entry is not None and entry[0] == stored:
            self.hits += 1
            return entry[1]
        self.misses += 1
        return self._decode(stored)

    def put(self, key: bytes, stored: bytes, record: R) -> None:
        """Remember that ``key`` now holds ``stored``, which decodes to ``record``."""
        if self._capacity <= 0:
            return
        self._entries[key] = (stored, record)
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def drop(self, key: bytes) -> None:
        """Forget ``key``: its cached record may differ from the table's bytes."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything (partitions moved: the table may change under us)."""
        self._entries.clear()
