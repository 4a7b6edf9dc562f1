"""A second worker joins the group mid-stream: partitions split, outputs stay complete.

Worker A judges the first part of the book alone; worker B starts with the same
app id (its own, empty data dir); the group rebalances and B takes over some
partitions, recovering their loans from the changelog topic. The rest of the book
must then produce exactly the warnings the offline engine expects, with no dead
letters: a moved loan whose table entry did not follow it would be rejected as
"no loan_disbursed seen".
"""

from __future__ import annotations

import time

from confluent_kafka.admin import AdminClient


def _assignments(harness) -> dict[str, set[int]]:
    """Consumer group members (by client host/id) and the events partitions each holds."""
    admin = AdminClient(harness.local.kafka.confluent_config())
    group = harness.local.app_id
    description = admin.describe_consumer_groups([group])[group].result(timeout=10)
    events = harness.local.topics.events
    return {
        member.member_id: {
            tp.partition for tp in member.assignment.topic_partitions if tp.topic == events
        }
        for member in description.members
    }


def test_second_worker_joins_and_takes_partitions_without_losing_outputs(harness, tmp_path) -> None:
    started = time.monotonic()
    events = harness.book()
    per_event = harness.expected(events)
    split = len(events) // 3
    before = {k: v for bodies in per_event[:split] for k, v in bodies.items()}
    everything = {k: v for bodies in per_event for k, v in bodies.items()}

    harness.start("a", tmp_path / "data-a")
    collector = harness.collector()
    harness.produce(events[:split])
    harness.wait("worker A's warnings", harness.has_all(before), collector, alive=("a",))
    harness.wait_committed(split, alive=("a",))
    only_a = _assignments(harness)
    assert [sorted(p) for p in only_a.values()] == [list(range(harness.partitions))], only_a

    harness.start("b", tmp_path / "data-b")
    deadline = time.monotonic() + 90
    split_up: dict[str, set[int]] = {}
    while time.monotonic() < deadline:
        harness.alive("a", "b")
        split_up = _assignments(harness)
        if len(split_up) == 2 and all(split_up.values()):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"partitions were not split: {split_up}\n{harness.logs()}")
    held = sorted(p for parts in split_up.values() for p in parts)
    assert held == list(range(harness.partitions)), split_up

    harness.produce(events[split:])
    harness.wait(
        "every warning with two workers",
        harness.has_all(everything),
        collector,
        timeout_s=120,
        alive=("a", "b"),
    )
    collector.drain(3)
    harness.check(collector, everything)
    harness.alive("a", "b")
    # Both processes really judged: each one's log shows its share of the assignment.
    for name in ("a", "b"):
        assert harness.local.topics.events in harness.log_text(name), harness.logs()
    print(
        f"rebalance: {len(events)} events, {len(everything)} warnings, "
        f"{len(collector.seen[harness.local.topics.warnings])} messages, "
        f"split {sorted(map(sorted, split_up.values()))}, {time.monotonic() - started:.1f}s"
    )
