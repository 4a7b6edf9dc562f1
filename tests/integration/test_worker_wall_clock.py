"""On the wall clock, a burst of due loans is ticked in paced slices, not all at once.

Sixty loans are disbursed sixty days ago with their first installment due a
month ago, so every one is due at the worker's next clock run. With
``clock_ticks_per_s`` at 20 the ticks must go out two per tenth of a second:
no half second may hold more than a dozen of them (unpaced, all sixty leave
within milliseconds), and every loan must still be ticked and aged (its DPD
30 warning is raised by the tick alone).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from test_worker_judges import _disbursed as disbursed

from rules import LoanDisbursed
from streams.topics import ticks_topic

LOANS = 60
RATE = 20


def _disbursed(n: int, today: date) -> LoanDisbursed:
    start = today - timedelta(days=60)
    paid_out = datetime.combine(start, datetime.min.time(), UTC) + timedelta(hours=3)
    return disbursed(f"L-wall-{n:03d}", paid_out, start + timedelta(days=1))


def _ticks(harness, partitions: int) -> list[tuple[str, int]]:
    """(loan id, send time in ms) of every tick in the worker's ticks topic so far."""
    topic = ticks_topic(harness.local)
    consumer = Consumer(
        {
            **harness.local.kafka.confluent_config(),
            "group.id": f"test-ticks-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    out: list[tuple[str, int]] = []
    quiet = time.monotonic()
    try:
        while time.monotonic() - quiet < 1.5:
            msg = consumer.poll(0.2)
            if msg is None or msg.error() is not None:
                continue
            quiet = time.monotonic()
            out.append(((msg.key() or b"").decode(), msg.timestamp()[1]))
    finally:
        consumer.close()
    return out


def test_a_burst_of_due_loans_is_ticked_in_paced_slices(harness, tmp_path) -> None:
    today = datetime.now(UTC).date()
    loans = [_disbursed(n, today) for n in range(LOANS)]
    harness.start(
        "wall",
        tmp_path / "data",
        LOANWATCH_WORKER__CLOCK="wall",
        LOANWATCH_WORKER__CLOCK_INTERVAL_S="1",
        LOANWATCH_WORKER__CLOCK_TICKS_PER_S=str(RATE),
        LOANWATCH_TIME_ZONE="UTC",
    )
    collector = harness.collector()
    harness.produce(loans)
    warnings = harness.local.topics.warnings

    def all_aged(c) -> bool:
        return {w["loan_id"] for w in c.seen[warnings] if w["rule_id"] == "dpd_30"} >= {
            loan.loan_id for loan in loans
        }

    harness.wait("a DPD 30 warning on every loan", all_aged, collector, alive=("wall",))
    assert collector.seen[harness.local.topics.dlq] == [], harness.logs()

    ticks = _ticks(harness, harness.partitions)
    assert {loan for loan, _ in ticks} == {loan.loan_id for loan in loans}
    times = sorted(ms for _, ms in ticks)
    busiest = max(sum(1 for t in times if start <= t < start + 500) for start in times)
    assert busiest <= 12, f"{busiest} ticks within half a second at {RATE}/s"
    assert times[-1] - times[0] >= (LOANS / RATE - 1) * 1000, times
