"""A broker that goes away under a running worker, and comes back.

Not the shared stack's Kafka, which other tests use meanwhile: the test has a
broker of its own (`private_kafka`: KRaft on free ports with its own data folder),
kills it with SIGKILL under a judging worker and starts it again on the same data.
The worker must say so in one line while the broker is away, say in one line that
it is back, and judge on: every warning of the events before and after the
outage, each once, and none of aiokafka's own lines on the way. The worker's
10 s session timeout (`reliability_env`) often has the group rebalance once the
broker is back: judging must survive that too.
"""

from __future__ import annotations

import time
from typing import Any

import pytest


def merged(per_event: list[dict[Any, Any]]) -> dict[Any, Any]:
    return {key: body for bodies in per_event for key, body in bodies.items()}


def wait_for_line(harness: Any, name: str, text: str, after: int, timeout_s: float) -> int:
    """The index of the first line holding ``text`` past line ``after`` of the worker's log."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lines = harness.log_text(name).splitlines()
        for index in range(after, len(lines)):
            if text in lines[index]:
                return index
        harness.alive(name)
        time.sleep(0.2)
    raise AssertionError(f"no {text!r} within {timeout_s:.0f} s\n{harness.logs()}")


@pytest.mark.slow
def test_worker_reports_a_broker_gone_in_one_line_and_judges_on_once_it_is_back(
    private_kafka: Any, private_harness: Any
) -> None:
    harness = private_harness
    address = private_kafka.address
    events = harness.book(loans=20, months=4)
    per_event = harness.expected(events)
    half = len(events) // 2
    assert len(merged(per_event[half:])) >= 15, "the second half must have warnings to judge"
    harness.start("w")
    harness.produce(events[:half])
    first = harness.collector()
    harness.wait("the first half's warnings", harness.has_all(merged(per_event[:half])), first)
    harness.wait_committed(half, alive=("w",))  # nothing in flight when the broker dies
    harness.collectors.remove(first)  # its own client would retry through the outage
    first.close()

    mark = len(harness.log_text("w").splitlines())
    private_kafka.kill()
    killed = time.monotonic()
    down = wait_for_line(harness, "w", f"cannot reach Kafka at {address}", mark, 30)
    reported_s = time.monotonic() - killed
    time.sleep(10)  # aiokafka alone used to log about forty lines a second
    restart_s = private_kafka.start()
    back = wait_for_line(harness, "w", f"Kafka at {address} answers again", down, 90)
    back_s = time.monotonic() - killed

    harness.produce(events[half:])
    collector = harness.collector()
    expected = merged(per_event)
    harness.wait("every warning after the outage", harness.has_all(expected), collector)
    collector.drain(2)  # a repeat would have arrived by now
    harness.check(collector, expected)
    keys = [(w["warning_id"], w["status"]) for w in collector.seen[harness.local.topics.warnings]]
    assert len(keys) == len(set(keys)) == len(expected), "an output was repeated"

    lines = harness.log_text("w").splitlines()[mark:]
    print(
        f"outage reported {reported_s:.1f} s after the kill, broker restarted in "
        f"{restart_s:.1f} s, back reported {back_s:.1f} s after the kill; {len(expected)} "
        f"warnings; {len(lines)} log lines from the kill to the end:\n" + "\n".join(lines)
    )
    said = [line for line in lines if "[INFO]" not in line and line.startswith("[")]
    assert said == [lines[down - mark], lines[back - mark]], said  # nothing else above INFO
    assert "retrying with backoff, reporting once a minute" in lines[down - mark]
    assert not [line for line in lines if "Traceback" in line or "|FAIL|" in line], lines
    # Thousands before (aiokafka's ERROR lines); now the two above, a coordinator line
    # and, when the group expired the worker while the broker restarted, Faust's
    # rebalance (about fifty INFO lines, tables included).
    assert len(lines) <= 80, lines
