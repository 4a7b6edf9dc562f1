"""A worker killed with SIGKILL mid-stream and restarted loses nothing and repeats nothing new.

Real Kafka, real worker processes. The book is the seeded simulator's; the warnings
it must produce come from replaying the same events through the pure engine here.
The worker is killed while it judges the second part of the book, then restarted
with the same app id: once on its own RocksDB data dir, once on an empty one, so
the loan table must come back from the changelog topic. Loans that progressed
before the kill must continue where they were: lost state would restart them from
nothing, and their next events would go to the DLQ ("no loan_disbursed seen").
"""

from __future__ import annotations

import threading
import time

import pytest


@pytest.mark.parametrize("data_dir", ["same", "empty"])
def test_sigkill_mid_stream_then_restart_keeps_every_warning(harness, tmp_path, data_dir) -> None:
    started = time.monotonic()
    events = harness.book()
    per_event = harness.expected(events)
    split = len(events) * 2 // 5
    before = {k: v for bodies in per_event[:split] for k, v in bodies.items()}
    after = {k: v for bodies in per_event[split:] for k, v in bodies.items()}
    everything = {**before, **after}
    # Loans whose state progressed before the kill and that warn again after it.
    early_loans = {e.loan_id for e in events[:split]}
    continuing = {k for k, body in after.items() if body["loan_id"] in early_loans}
    assert len(before) >= 15 and len(continuing) >= 20, (len(before), len(continuing))

    harness.start("first", tmp_path / "data-first")
    collector = harness.collector()
    harness.produce(events[:split])
    harness.wait("the first part's warnings", harness.has_all(before), collector, alive=("first",))
    # Its offsets are committed: a restart resumes after them, so only the recovered
    # table can know these loans (re-reading from offset 0 would hide a lost table).
    harness.wait_committed(split, alive=("first",))

    # The rest arrives at a steady pace while the worker judges it; kill it mid-way.
    producer = threading.Thread(
        target=harness.produce, args=(events[split:],), kwargs={"per_second": 400}
    )
    producer.start()
    warnings = harness.local.topics.warnings

    def some_of_the_rest(c) -> bool:
        got = {(w.get("warning_id"), w.get("status")) for w in c.seen[warnings]}
        return len(got & set(after)) >= 5

    harness.wait("a few warnings of the second part", some_of_the_rest, collector, alive=("first",))
    harness.kill9("first")
    seen_at_kill = len(collector.seen[warnings])
    producer.join(timeout=60)
    assert not producer.is_alive()
    assert seen_at_kill < len(everything), "the worker finished before it was killed"

    restart_dir = tmp_path / ("data-first" if data_dir == "same" else "data-restarted")
    harness.start("restarted", restart_dir)
    harness.wait(
        "every warning after the restart",
        harness.has_all(everything),
        collector,
        timeout_s=120,
        alive=("restarted",),
    )
    collector.drain(3)  # late repeats, if any, must be identical too
    harness.check(collector, everything)
    harness.alive("restarted")
    # The killed run's files hold rows whose outputs may never have left the
    # producer: on the same folder they are dropped and restored from the changelog.
    rebuilt = "did not stop cleanly" in harness.log_text("restarted")
    assert rebuilt == (data_dir == "same"), harness.log_text("restarted")[-3000:]
    print(
        f"recovery ({data_dir} data dir): {len(events)} events, {len(everything)} warnings, "
        f"{len(collector.seen[warnings])} messages, {seen_at_kill} before the kill, "
        f"{time.monotonic() - started:.1f}s"
    )
