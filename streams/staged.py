"""A table written once per batch: rows staged in memory, then stored and changelogged.

The batched worker (`streams.worker`) steps many events before any of their
rows is durable. A loan stepped three times in a batch is written once, with
its last row; the model checkpoints of a partition likewise. Reads see the
staged rows first, so a later step of the batch reads what an earlier one
wrote. `StagedTable.drain` hands the writes over in the order they were first
made, each with the partition it belongs to; the worker then sends their
changelog records and writes RocksDB (`streams.faust_seam`), after the batch's
outputs are delivered (see `streams.worker.Worker.flush`).

`StagedTable` is also the mapping `streams.scoring.PartitionModels` reads and
writes its checkpoints through. The worker calls `at` before each step with the
partition and the topic of the message it judges: a write belongs to that
partition, and under ``exactly_once`` its changelog record joins that
message's transaction.

>>> table = StagedTable(lambda partition, key: {b"a": b"1"}.get(key))
>>> table.at(2, "events")
>>> table[b"a"], table.get(b"b")
(b'1', None)
>>> table[b"b"] = b"x"
>>> del table[b"a"]
>>> table.at(0, "ticks")
>>> table[b"c"] = b"y"
>>> table.get(b"a"), table.get(b"b")
(None, b'x')
>>> [(w.partition, w.key, w.value, w.source) for w in table.drain()]
[(2, b'b', b'x', 'events'), (2, b'a', None, 'events'), (0, b'c', b'y', 'ticks')]
>>> len(table)
0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

__all__ = ["StagedTable", "Write"]


class Write(NamedTuple):
    """A staged write; ``value`` ``None`` is a delete."""

    partition: int
    key: bytes
    value: bytes | None
    source: str
    """The topic of the message whose step made the write."""


class StagedTable:
    """Writes kept in memory until `drain`; reads fall through to ``read(partition, key)``."""

    __slots__ = ("_pending", "_read", "partition", "source")

    def __init__(self, read: Callable[[int, bytes], bytes | None]) -> None:
        self._read = read
        self._pending: dict[bytes, Write] = {}
        self.partition = 0
        self.source = ""

    def at(self, partition: int, source: str) -> None:
        """Writes from now on belong to ``partition``, made by a message of ``source``."""
        self.partition = partition
        self.source = source

    def __len__(self) -> int:
        return len(self._pending)

    def get(self, key: bytes, partition: int | None = None) -> bytes | None:
        """The staged value of ``key``, else the stored one in ``partition`` (default: current)."""
        staged = self._pending.get(key)
        if staged is not None:
            return staged.value
        return self._read(self.partition if partition is None else partition, key)

    def __getitem__(self, key: bytes) -> bytes | None:
        return self.get(key)

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._pending[key] = Write(self.partition, key, value, self.source)

    def __delitem__(self, key: bytes) -> None:
        self._pending[key] = Write(self.partition, key, None, self.source)

    def drain(self) -> list[Write]:
        """The staged writes, oldest key first, and forget them."""
        out = list(self._pending.values())
        self._pending.clear()
        return out

    def discard(self) -> None:
        """Forget the staged writes (the batch failed before any was durable)."""
        self._pending.clear()
