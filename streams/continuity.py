"""Input offsets the agent never judged: counted and logged, never silent.

A stream framework can drop records between the fetcher and the agent (Faust's
restore hand-over did: streams/recovery_order.py), and nothing downstream would
notice: offsets still advance, outputs just never appear. `OffsetWatch` keeps,
per input partition, the next offset the agent should see, starting from the
committed offset the worker sought to, and reports every jump past it.

Jumps are losses for inputs written without transactions (the simulator's, the
worker's own ticks). A transactional producer's commit markers and aborted
records also occupy offsets, so on such an input a jump may be harmless; the
log line says so. A record seen again below the expected offset (a re-read
after a seek back) is no jump.

>>> watch = OffsetWatch()
>>> watch.seed("events", 0, 75)
>>> [watch.see("events", 0, offset) for offset in (75, 76, 80, 81)]
[None, None, (77, 80), None]
>>> watch.see("events", 0, 60) is None  # read again after a seek back
True
>>> watch.see("events", 1, 500) is None  # nothing known yet about this partition
True
"""

from __future__ import annotations

__all__ = ["OffsetWatch"]


class OffsetWatch:
    """Per (topic, partition): the next offset the agent should judge."""

    def __init__(self) -> None:
        self._next: dict[tuple[str, int], int] = {}

    def reset(self) -> None:
        """Forget everything (a new assignment; seeded again after its seek)."""
        self._next.clear()

    def seed(self, topic: str, partition: int, committed: int | None) -> None:
        """The worker sought ``partition`` to ``committed``: the next record is that one."""
        if committed is None:
            self._next.pop((topic, partition), None)  # no commit yet: starts wherever it starts
        else:
            self._next[(topic, partition)] = committed

    def see(self, topic: str, partition: int, offset: int) -> tuple[int, int] | None:
        """Record that the agent got ``offset``; the skipped range [first, end) if it jumped."""
        key = (topic, partition)
        expected = self._next.get(key)
        self._next[key] = offset + 1
        if expected is not None and offset > expected:
            return expected, offset
        return None
