"""Events from producers with another partitioner are judged with the rest of their loan.

Java clients place keys by murmur2, librdkafka clients (kcat, confluent-kafka) by
crc32 unless told otherwise, so one loan's events can arrive on two partitions.
The worker used to judge each where it arrived, and dead-lettered the second half
of such a loan ("no loan_disbursed seen"). Now an event on another partition
than its key's (by murmur2) is forwarded there, its bytes intact, and judged
with its loan.
"""

from __future__ import annotations

from confluent_kafka import Producer
from test_worker_judges import _activity, _disbursed

from rules import encode_event
from streams.partitioning import key_partition


def test_a_loan_split_by_two_partitioners_is_judged_whole(harness, tmp_path) -> None:
    topics = harness.local.topics
    loans = [f"L-split-{n}" for n in range(8)]
    # Activity a few days after each loan's first due date: the loan is past due,
    # which its own events show (dpd_1), whichever partition they first reach.
    late = [_activity(loan, n) for n in (12, 13) for loan in loans]
    crc32 = Producer({**harness.local.kafka.confluent_config(), "partitioner": "consistent"})
    placed: dict[str, int] = {}

    def delivered(err, msg) -> None:
        assert err is None, err
        placed[msg.key().decode()] = msg.partition()

    harness.start("w", tmp_path / "data")
    collector = harness.collector()
    harness.produce([_disbursed(loan) for loan in loans])  # Kafka's default partitioner
    for event in late:  # a librdkafka client left at its own default, crc32
        crc32.produce(
            topics.events,
            key=event.loan_id.encode(),
            value=encode_event(event),
            on_delivery=delivered,
        )
    assert crc32.flush(30) == 0
    moved = {
        loan
        for loan, partition in placed.items()
        if partition != key_partition(loan.encode(), topics.partitions)
    }
    assert len(moved) >= 2, placed  # some loans' activity landed on another partition

    def warned(c) -> bool:
        opened = {(w["loan_id"], w["rule_id"]) for w in c.seen[topics.warnings]}
        return {(loan, "dpd_1") for loan in loans} <= opened

    harness.wait("dpd_1 for every loan", warned, collector, alive=("w",))
    collector.drain(2)
    assert collector.seen[topics.dlq] == [], collector.raw[topics.dlq][:3]
    assert harness.log_lines("forwarded there"), harness.logs()
