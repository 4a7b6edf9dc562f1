"""The offline event clock: one walk for a whole history, or one per Kafka partition."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from rules.core import Engine, StepResult, Tick
from rules.events import AccountBalance, Event
from rules.loan import LoanState
from rules.pack import default_pack
from rules.policy import load_policy
from rules.workflows import load_workflow_policy
from streams.backtest import CoreStepper, EventClock, Replay
from streams.partitioning import key_partition
from streams.simulate import BookSpec, LoanBook

PARTITIONS = 4


def seen(loan_id: str, day: int) -> AccountBalance:
    """An event of ``loan_id`` at noon on ``day`` March 2024 (only its loan and time count)."""
    return AccountBalance(
        event_id=f"b-{loan_id}-{day}",
        loan_id=loan_id,
        borrower_id="bw-1",
        event_time=datetime(2024, 3, day, 12, tzinfo=UTC),
        source="core",
        account="acct-1",
        balance=0,
        currency="CNY",
        schema_version=1,
    )


def two_loans_apart() -> tuple[str, str]:
    """Two loan ids that our producers place on different partitions."""
    ids = [f"L-{n}" for n in range(20)]
    first = ids[0]
    home = key_partition(first.encode(), PARTITIONS)
    other = next(i for i in ids if key_partition(i.encode(), PARTITIONS) != home)
    return first, other


def ticks(clock: EventClock, event: Event) -> list[tuple[str, date]]:
    return [(tick.loan_id, tick.on) for tick in clock.owed(event)]


def test_each_partition_is_ticked_by_its_own_events_only() -> None:
    a, b = two_loans_apart()
    clock = EventClock(UTC, PARTITIONS)
    assert ticks(clock, seen(a, 1)) == [] and ticks(clock, seen(b, 1)) == []
    clock.woke(a, date(2024, 3, 3))
    clock.woke(b, date(2024, 3, 3))
    assert ticks(clock, seen(a, 10)) == [(a, date(2024, 3, 3))]  # b's partition is still at 1
    assert ticks(clock, seen(b, 5)) == [(b, date(2024, 3, 3))]
    assert clock.last_day == date(2024, 3, 10)


def test_one_clock_for_the_whole_history_by_default() -> None:
    a, b = two_loans_apart()
    clock = EventClock(UTC)
    assert ticks(clock, seen(a, 1)) == []
    clock.woke(a, date(2024, 3, 3))
    clock.woke(b, date(2024, 3, 2))
    assert ticks(clock, seen(a, 10)) == [(b, date(2024, 3, 2)), (a, date(2024, 3, 3))]
    assert ticks(clock, seen(b, 5)) == []  # a day already passed moves nothing


def test_a_loan_woken_by_its_tick_is_ticked_again_in_the_same_walk() -> None:
    clock = EventClock(UTC, PARTITIONS)
    assert ticks(clock, seen("L-1", 1)) == []
    clock.woke("L-1", date(2024, 3, 2))
    walk = clock.owed(seen("L-1", 6))
    assert next(walk) == Tick("L-1", date(2024, 3, 2))
    clock.woke("L-1", date(2024, 3, 4))  # what the tick's step left
    assert list(walk) == [Tick("L-1", date(2024, 3, 4))]


def test_a_topic_has_at_least_one_partition() -> None:
    with pytest.raises(ValueError, match="at least one partition"):
        EventClock(UTC, 0)


class _Clocked(CoreStepper):
    """`CoreStepper`, noting the time each step was judged at."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.times: set[datetime] = set()

    def step(
        self, loan_id: str, item: Event | Tick, now: datetime
    ) -> tuple[LoanState | None, StepResult]:
        self.times.add(now)
        return super().step(loan_id, item, now)


def _engine() -> Engine:
    return Engine(default_pack(), load_policy(None), load_workflow_policy(None))


def test_a_replay_with_one_partition_is_the_replay_with_one_clock() -> None:
    events = list(LoanBook(BookSpec(20, 4, 3)))
    engine = _engine()
    one = Replay(CoreStepper(engine), engine).run(events)
    engine = _engine()
    single = Replay(CoreStepper(engine), engine, partitions=1).run(events)
    assert one.ticks > 0 and (one.ticks, one.alerts) == (single.ticks, single.alerts)
    assert one.outcomes == single.outcomes and one.last_day == single.last_day


def test_a_replay_given_now_judges_every_step_at_it() -> None:
    events = list(LoanBook(BookSpec(10, 3, 3)))
    engine = _engine()
    stepper = _Clocked(engine)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    steps = list(Replay(stepper, engine, partitions=PARTITIONS, now=now).steps(events))
    assert any(isinstance(item, Tick) for item, _ in steps)
    assert [item for item, _ in steps if not isinstance(item, Tick)] == events
    assert stepper.times == {now}
