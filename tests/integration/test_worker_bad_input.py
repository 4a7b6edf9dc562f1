"""One bad message never stops the stream: a real worker, hostile input, every loan judged.

Each test mixes messages that once stopped or misled the worker into a seeded
book (or a hand-made one) and checks three things: the bad message is in the
dead-letter topic with the field at fault, nothing else is, and every warning
the offline engine expects from the good events arrives exactly as expected.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer
from test_worker_judges import (  # L-busy and L-silent-1's book
    SHARED_PARTITION,
    _activity,
    _disbursed,
)

from rules import Event, encode_event


def _produce(harness: Any, messages: list[tuple[bytes | None, bytes]], partition: int = -1) -> None:
    """Raw (key, value) messages, in order (one producer: one key, one partition)."""
    producer = Producer(harness.local.kafka.ordered_producer_config())
    for key, value in messages:
        if partition >= 0:
            producer.produce(harness.local.topics.events, key=key, value=value, partition=partition)
        else:
            producer.produce(harness.local.topics.events, key=key, value=value)
        producer.poll(0)
    assert producer.flush(30) == 0


def _keyed(events: list[Event]) -> list[tuple[bytes | None, bytes]]:
    return [(event.loan_id.encode(), encode_event(event)) for event in events]


def _variant(event: Event, suffix: str, **fields: Any) -> bytes:
    """``event`` on the wire with another event id and some fields replaced."""
    body = orjson.loads(encode_event(event))
    body.update(fields, event_id=f"{event.event_id}-{suffix}")
    return orjson.dumps(body)


def _everything(harness: Any, events: list[Event]) -> dict[tuple[str, str], dict[str, Any]]:
    return {k: v for bodies in harness.expected(events) for k, v in bodies.items()}


def _letters(collector: Any, harness: Any) -> list[dict[str, str]]:
    """Each dead letter's headers, decoded."""
    return [
        {name: value.decode() for name, value in headers.items()}
        for headers in collector.headers[harness.local.topics.dlq]
    ]


def test_events_dated_in_year_1_or_9999_are_dead_lettered_and_the_book_is_judged(
    harness: Any, tmp_path: Path
) -> None:
    """Once, either date crashed the judging agent in the core's date arithmetic."""
    events = harness.book()
    expected = _everything(harness, events)
    target = events[40]
    bad = [
        _variant(target, "y1", event_time="0001-01-01T00:00:00+08:00"),
        _variant(target, "y9999", event_time="9999-12-31T23:59:59+08:00"),
    ]
    key = target.loan_id.encode()
    messages = _keyed(events[:41]) + [(key, raw) for raw in bad] + _keyed(events[41:])

    harness.start("w", tmp_path / "data")
    collector = harness.collector()
    _produce(harness, messages)
    harness.wait("every warning", harness.has_all(expected), collector, alive=("w",))
    collector.drain(2)
    harness.check(collector, expected, dead_letters=2)
    assert collector.raw[harness.local.topics.dlq] == bad  # the original bytes
    for letter in _letters(collector, harness):
        assert letter["lw.error"].startswith("event_time: must be between 1970-01-02"), letter
        assert letter["lw.loan_id"] == target.loan_id
    harness.alive("w")


def test_an_event_dated_ahead_of_the_worker_clock_moves_no_loan_and_no_clock(
    harness: Any, tmp_path: Path
) -> None:
    """Under the event clock, one typo'd year once aged every loan of its partition.

    L-busy and L-silent-1 share a partition. Before the first due date, L-busy sends
    an event dated two years after the wall clock: it must be dead-lettered
    naming ``event_time``, and L-silent-1, which only ticks can age, must stay
    quiet. L-busy's later genuine events then move the clock as usual: L-silent-1
    reaches DPD 30 by ticks, and nothing of L-busy's is refused as late.
    """
    harness.start("w", tmp_path / "data", LOANWATCH_WORKER__CLOCK_INTERVAL_S="0.5")
    collector = harness.collector()
    topics = harness.local.topics
    early = [_disbursed("L-busy"), _disbursed("L-silent-1"), _activity("L-busy", 1)]
    ahead = (datetime.now(UTC) + timedelta(days=730)).isoformat()
    typo = _variant(_activity("L-busy", 2), "typo", event_time=ahead)
    _produce(harness, [*_keyed(early), (b"L-busy", typo)], partition=SHARED_PARTITION)
    harness.wait("the dead letter", lambda c: c.seen[topics.dlq], collector, alive=("w",))
    collector.drain(3)  # several clock runs: a moved clock would tick L-silent-1 now
    [letter] = _letters(collector, harness)
    assert letter["lw.error"].startswith("event_time: "), letter
    assert "ahead of the worker's clock" in letter["lw.error"], letter
    assert not [w for w in collector.seen[topics.warnings] if w["loan_id"] == "L-silent-1"]

    _produce(
        harness, _keyed([_activity("L-busy", n) for n in range(3, 30)]), partition=SHARED_PARTITION
    )

    def aged(c: Any) -> bool:
        return any(
            (w["loan_id"], w["rule_id"]) == ("L-silent-1", "dpd_30")
            for w in c.seen[topics.warnings]
        )

    harness.wait("L-silent-1 aged by ticks", aged, collector, alive=("w",))
    collector.drain(1)
    assert len(collector.seen[topics.dlq]) == 1, _letters(collector, harness)
    silent = [w for w in collector.seen[topics.warnings] if w["loan_id"] == "L-silent-1"]
    assert max(w["dpd"] for w in silent) < 60, silent  # the clock is at day 87, not 2028


def test_events_keyed_other_than_their_loan_are_dead_lettered_and_change_nothing(
    harness: Any, tmp_path: Path
) -> None:
    """A wrongly keyed disbursement once started an orphan loan on another partition
    and left every correctly keyed event of its loan dead-lettered."""
    events = harness.book()
    expected = _everything(harness, events)
    first = events[0]
    assert first.type == "loan_disbursed"
    other = next(e for e in events if e.loan_id != first.loan_id)
    later = next(e for e in events[1:] if e.loan_id == first.loan_id)
    wrong = [
        (other.loan_id.encode(), encode_event(first)),  # another loan's key
        (None, encode_event(later)),  # no key at all
        (b"", encode_event(later)),  # an empty key
    ]
    harness.start("w", tmp_path / "data")
    collector = harness.collector()
    _produce(harness, [*wrong, *_keyed(events)])
    harness.wait("every warning", harness.has_all(expected), collector, alive=("w",))
    collector.drain(2)
    harness.check(collector, expected, dead_letters=3)
    errors = sorted(letter["lw.error"] for letter in _letters(collector, harness))
    assert errors[0].startswith("key: message key "), errors
    assert errors[1:] == ["key: missing; events must be keyed by loan_id"] * 2, errors


_FAULTY = """
import sys

from streams import judging

real = judging.Runtime.judge
failing = sys.argv[1]


def judge(self, key, stored, partition, item, now):
    if getattr(item, "event_id", None) == failing:
        raise ZeroDivisionError("injected fault")
    return real(self, key, stored, partition, item, now)


judging.Runtime.judge = judge
sys.argv = ["loanwatch", "worker"]
from streams.cli import main

main()
"""


def test_a_step_that_raises_is_dead_lettered_and_its_partition_judges_on(
    harness: Any, tmp_path: Path
) -> None:
    """A bug met by one event costs that event: its partition's next events are judged."""
    events = harness.book()
    failing = next(
        e
        for e in events[len(events) // 3 :]
        if e.type in ("account_transaction", "account_balance", "bureau_report")
    )
    kept = [e for e in events if e is not failing]
    expected = _everything(harness, kept)
    script = tmp_path / "faulty_worker.py"
    script.write_text(_FAULTY)

    harness.start("w", tmp_path / "data", command=[sys.executable, str(script), failing.event_id])
    collector = harness.collector()
    harness.produce(events)
    harness.wait("every warning", harness.has_all(expected), collector, alive=("w",))
    collector.drain(2)
    harness.check(collector, expected, dead_letters=1)
    [letter] = _letters(collector, harness)
    assert letter["lw.error"] == "$: step failed: ZeroDivisionError: injected fault", letter
    assert letter["lw.event_id"] == failing.event_id
    assert collector.raw[harness.local.topics.dlq] == [encode_event(failing)]
    logged = harness.log_lines("step failed")
    assert len(logged) == 1 and f"[ERROR] rejected topic={harness.local.topics.events}" in logged[0]
    assert f"loan={failing.loan_id} reason=$: step failed: ZeroDivisionError" in logged[0]
