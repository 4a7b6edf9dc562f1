"""The event clock, offline: which loans to tick, on which day, before each event.

The worker under ``clock: event`` moves each Kafka partition's day with that
partition's own events (`streams.worker.Worker.tick_owed`): before an event of a
later day, each loan of the partition whose wake-up day (`rules.clock.DueIndex`)
has come is ticked on that day, day by day. `EventClock` is that walk for a
replay in one process: one day and one due index per partition, each loan's
partition chosen as our producers place it (`streams.partitioning.key_partition`),
or one walk for the whole history (``partitions=None``, the backtest's).

The caller steps each tick before asking for the next one and tells the clock
the wake-up day each stored step left (`woke`): a tick's step may wake its loan
again on a later day of the same walk.

>>> from datetime import UTC, datetime
>>> from rules.events import AccountBalance
>>> def seen(loan_id: str, day: int) -> AccountBalance:
...     return AccountBalance(
...         event_id=f"b-{loan_id}-{day}", loan_id=loan_id, borrower_id="bw-1",
...         event_time=datetime(2024, 3, day, 12, tzinfo=UTC), source="core",
...         account="acct-1", balance=0, currency="CNY", schema_version=1,
...     )
>>> clock = EventClock(UTC)
>>> list(clock.owed(seen("L1", 1)))
[]
>>> clock.woke("L1", date(2024, 3, 3))
>>> clock.woke("L2", date(2024, 3, 2))
>>> [(t.loan_id, str(t.on)) for t in clock.owed(seen("L1", 4))]
[('L2', '2024-03-02'), ('L1', '2024-03-03')]
>>> str(clock.last_day)
'2024-03-04'
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta, tzinfo

from rules.clock import DueIndex
from rules.core import Tick
from rules.events import Event
from streams.partitioning import key_partition

__all__ = ["EventClock"]


class EventClock:
    """Days and due loans per partition; `owed` walks a partition up to an event's day."""

    def __init__(self, zone: tzinfo, partitions: int | None = None) -> None:
        if partitions is not None and partitions < 1:
            raise ValueError(f"a topic has at least one partition, got {partitions}")
        self.zone = zone
        self.partitions = partitions
        self._indexes: dict[int, DueIndex] = {}
        self._days: dict[int, date] = {}

    def partition(self, loan_id: str) -> int:
        """The partition whose clock wakes ``loan_id`` (0 for one clock over everything)."""
        if self.partitions is None:
            return 0
        return key_partition(loan_id.encode(), self.partitions)

    def day_of(self, event: Event) -> date:
        """The event's local day, the day it moves its partition's clock to."""
        return event.event_time.astimezone(self.zone).date()

    @property
    def last_day(self) -> date | None:
        """The latest day any partition's clock reached (``None`` before any event)."""
        return max(self._days.values(), default=None)

    def woke(self, loan_id: str, wakeup: date | None) -> None:
        """A stored step left ``loan_id`` to be woken on ``wakeup`` (``None``: never by time)."""
        self._index(self.partition(loan_id)).set(loan_id, wakeup)

    def owed(self, event: Event) -> Iterator[Tick]:
        """The ticks ``event``'s partition owes before it, in the order to step them.

        Each day after the partition's last one, up to the event's, the loans due
        by then, earliest wake-up first. A partition's first event starts its clock
        on its own day; an event of a day already passed moves nothing.
        """
        partition = self.partition(event.loan_id)
        index = self._index(partition)
        event_day = self.day_of(event)
        day = self._days.setdefault(partition, event_day)
        while day < event_day:
            day += timedelta(days=1)
            self._days[partition] = day
            for loan_id in index.pop_due(day):
                yield Tick(loan_id, day)

    def _index(self, partition: int) -> DueIndex:
        index = self._indexes.get(partition)
        if index is None:
            index = self._indexes[partition] = DueIndex()
        return index
