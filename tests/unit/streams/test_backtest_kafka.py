"""Naming a Kafka history, and merging its partitions: no broker needed.

Reading a real topic is tested in tests/integration/test_backtest_from_kafka.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rules import Event
from streams.backtest import TopicRange, merge_partitions
from streams.backtest.exceptions import BacktestError
from streams.simulate import BookSpec, LoanBook


def test_a_range_takes_offsets_or_times_and_either_side_may_be_open() -> None:
    assert TopicRange.parse("kafka:t").start is None
    assert TopicRange.parse("kafka:t.x@5..").start == 5
    assert TopicRange.parse("kafka:t.x@5..").end is None
    assert TopicRange.parse("kafka:t@..7").end == 7
    both = TopicRange.parse("kafka:t@2024-01-01T00:00:00+08:00..2024-07-01T00:00:00Z")
    assert both.start == datetime(2023, 12, 31, 16, tzinfo=UTC)
    assert both.end == datetime(2024, 7, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("kafka:", "no topic named"),
        ("kafka:t@5", "the range is START..END"),
        ("kafka:t@x..5", "'x' is neither an offset nor an ISO time"),
        ("kafka:t@2024-01-01T00:00:00..", "needs its UTC offset"),
        ("t@1..2", "a topic is named kafka:TOPIC"),
    ],
)
def test_a_bad_range_is_one_error_naming_the_history(text: str, fault: str) -> None:
    with pytest.raises(BacktestError, match=f"history {text}: .*{fault}"):
        TopicRange.parse(text)


def test_merging_keeps_each_partition_in_its_order_even_where_its_times_go_back() -> None:
    events = list(LoanBook(BookSpec(6, 2, 3)))
    late = events[5]
    shifted = late.model_copy(update={"event_time": late.event_time - timedelta(days=9)})
    p0 = [(e, 0, n) for n, e in enumerate([*events[:5], shifted])]
    p1 = [(e, 1, n) for n, e in enumerate(events[6:12])]
    merged: list[Event] = list(merge_partitions([iter(p1), iter(p0)]))
    assert [e for e in merged if any(e is x for x, _, _ in p0)] == [e for e, _, _ in p0]
    assert len(merged) == 12
