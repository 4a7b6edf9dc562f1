"""Input offsets the agent never judged: counted and logged, never silent.

A stream framework can drop records between the fetcher and the agent (Faust's
restore hand-over did: streams/faust_seam.py), and nothing downstream would
notice: offsets still advance, outputs just never appear. `OffsetWatch` keeps,
per input partition, the next offset the agent should see, starting from the
offset the worker sought to (asked of ``start`` at the partition's first
record after a reset), and reports every jump past it.

Jumps are losses for inputs written without transactions (the simulator's, the
worker's own ticks). A transactional producer's commit markers and aborted
records also occupy offsets, so on such an input a jump may be harmless; the
log line says so. A record seen again below the expected offset (a re-read
after a seek back) is no jump.

>>> committed = {("events", 0): 75}
>>> watch = OffsetWatch(committed.get)
>>> [watch.see(("events", 0), offset) for offset in (75, 76, 80, 81)]
[None, None, (77, 80), None]
>>> watch.see(("events", 0), 60) is None  # read again after a seek back
True
>>> watch.see(("events", 1), 500) is None  # nothing committed: starts wherever it starts
True
>>> watch.reset()  # a new assignment: the committed offset is asked again
>>> watch.see(("events", 0), 78)
(75, 78)
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

__all__ = ["OffsetWatch"]


class OffsetWatch:
    """Per partition: the next offset the agent should judge."""

    def __init__(self, start: Callable[[Hashable], int | None]) -> None:
        self._start = start  # where a partition's reading begins (its committed offset)
        self._next: dict[Hashable, int] = {}

    def reset(self) -> None:
        """Forget everything: a new assignment, sought again before its first record."""
        self._next.clear()

    def see(self, tp: Hashable, offset: int) -> tuple[int, int] | None:
        """Record that the agent got ``offset``; the skipped range [first, end) if it jumped."""
        expected = self._next.get(tp)
        if expected is None:  # the partition's first record since the reset
            expected = self._start(tp)
        self._next[tp] = offset + 1
        if expected is not None and offset > expected:
            return expected, offset
        return None
