"""Under the event clock a replay's outputs do not depend on how fast it runs.

A seeded book, produced at full speed and at a slow, steady pace: each run's
warnings (ids and bodies) must equal the offline replay's of the same events,
ticks included (`expected_warnings`: per partition, each loan whose wake-up day
came ticked on that day before the partition's next event of a later day).
Before, the clock was a timer: at full speed it ticked nothing (0 of 198 clock
warnings in one run) and `dpd_30` fired at the loan's next event, days late,
while a paced rerun of the same seed gave other warnings.
"""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("per_second", [None, 150], ids=["full-speed", "paced"])
def test_event_clock_replay_equals_the_offline_replay_at_any_speed(
    harness, tmp_path, per_second
) -> None:
    events = harness.book(loans=30, months=4)
    per_event = harness.expected(events)
    expected = {k: v for bodies in per_event for k, v in bodies.items()}
    by_ticks = [
        body
        for event, bodies in zip(events, per_event, strict=True)
        for body in bodies.values()
        if body["loan_id"] != event.loan_id
    ]
    assert len(by_ticks) >= 20, len(by_ticks)  # the clock's own warnings are in the test

    harness.start("w", tmp_path / "data")
    collector = harness.collector()
    harness.produce(events, per_second=per_second)
    harness.wait("every warning", harness.has_all(expected), collector, alive=("w",))
    collector.drain(2)  # nothing more may come
    harness.check(collector, expected)
