"""A real worker judges loans live: warnings, transitions and actions reach their topics.

Two loans on one partition (2 of 4, by Kafka's default partitioner): L-busy
sends account activity every few days, which moves the partition's event
clock forward; L-silent-1 is disbursed and never pays, so only the clock's
ticks can age it. Both must reach DPD 30 and 60.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import orjson
from confluent_kafka import Consumer, Producer

from config import Settings
from rules import AccountTransaction, Event, LoanDisbursed, encode_event
from streams.simulate import sample_loan
from streams.topics import ensure_topics

START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
SHARED_PARTITION = 2
"""Where Kafka's default (murmur2) partitioner puts both L-busy and L-silent-1 of 4."""


def _disbursed(
    loan_id: str, start: datetime = START, first: date = date(2026, 2, 5)
) -> LoanDisbursed:
    """A three-month loan paid out at ``start``, its installments due ``first`` and monthly."""
    return sample_loan(
        loan_id, start, first_due=first, installments=3, principal=100_000, interest=1_000
    )


def _activity(loan_id: str, n: int) -> AccountTransaction:
    return AccountTransaction(
        event_id=f"{loan_id}-t{n}",
        loan_id=loan_id,
        borrower_id=f"bw-{loan_id}",
        event_time=START + timedelta(days=3 * n),
        source="test",
        schema_version=1,
        account="acct-1",
        direction="out",
        amount=1_000,
        currency="CNY",
        counterparty_category="merchant",
        balance_after=50_000,
    )


def test_worker_emits_warnings_for_event_driven_and_clock_driven_loans(
    settings: Settings, worker_env: dict[str, str], worker: subprocess.Popen[bytes]
) -> None:
    local = settings.model_copy(
        update={
            "app_id": worker_env["LOANWATCH_APP_ID"],
            "topics": settings.topics.model_copy(
                update={
                    name: worker_env[f"LOANWATCH_TOPICS__{name.upper()}"]
                    for name in ("events", "dlq", "warnings", "transitions", "actions", "rules")
                }
            ),
        }
    )
    ensure_topics(local)
    events: list[Event] = [_disbursed("L-busy"), _disbursed("L-silent-1")]
    events += [_activity("L-busy", n) for n in range(1, 40)]  # to about 120 days later
    producer = Producer(local.kafka.ordered_producer_config())
    for event in events:
        producer.produce(
            local.topics.events,
            key=event.loan_id.encode(),
            value=encode_event(event),
            partition=SHARED_PARTITION,
        )
    assert producer.flush(30) == 0

    got = _collect(
        local,
        [local.topics.warnings, local.topics.transitions, local.topics.actions],
        done=lambda seen: (
            {("L-silent-1", "dpd_60"), ("L-busy", "dpd_60")}
            <= {(w["loan_id"], w["rule_id"]) for w in seen[local.topics.warnings]}
        ),
        proc=worker,
    )
    warnings = got[local.topics.warnings]
    opened = {(w["loan_id"], w["rule_id"]) for w in warnings if w["status"] == "open"}
    for loan in ("L-busy", "L-silent-1"):
        for rule in ("dpd_1", "dpd_30", "dpd_60", "installment_missed"):
            assert (loan, rule) in opened, [
                (w["rule_id"], w["status"], w["dpd"], w["event_time"])
                for w in warnings
                if w["loan_id"] == loan
            ]
    silent = [w for w in warnings if w["loan_id"] == "L-silent-1" and w["rule_id"] == "dpd_30"]
    # Aged by the clock: its step's id names the tick, not an event.
    assert silent[0]["event_id"].startswith("clock:") and silent[0]["event_id"].endswith(
        ":L-silent-1"
    )
    # How far one tick jumps depends on how far the events moved the clock meanwhile.
    assert silent[0]["dpd"] >= 30 and silent[0]["bucket"] in ("M1", "M2", "M3")
    # One open warning per (loan, rule, episode): ids are not repeated.
    ids = [w["warning_id"] for w in warnings if w["status"] == "open"]
    assert len(ids) == len(set(ids))
    moves = {(t["loan_id"], t["kind"], t["to"]) for t in got[local.topics.transitions]}
    assert {("L-silent-1", "bucket", "M2"), ("L-silent-1", "bucket", "M3")} & moves
    assert ("L-silent-1", "klass", "special_mention") in moves
    steps = {(a["loan_id"], a["name"]) for a in got[local.topics.actions]}
    assert ("L-busy", "sms_ivr") in steps and ("L-busy", "agent_call") in steps
    # A jump of several ladder steps at once emits the highest step reached.
    assert {name for loan, name in steps if loan == "L-silent-1"} & {"agent_call", "field_visit"}
    assert worker.poll() is None


def _collect(
    settings: Settings,
    topics: list[str],
    *,
    done: object,
    proc: subprocess.Popen[bytes],
    timeout_s: float = 120,
) -> dict[str, list[dict[str, object]]]:
    consumer = Consumer(
        {
            **settings.kafka.confluent_config(),
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe(topics)
    seen: dict[str, list[dict[str, object]]] = defaultdict(list)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if done(seen):  # type: ignore[operator]
                # The rest of that step's outputs follow within moments: take them too.
                deadline = min(deadline, time.monotonic() + 3)
            assert proc.poll() is None, "worker exited"
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            seen[msg.topic()].append(orjson.loads(msg.value()))
    finally:
        consumer.close()
    return seen


def test_clock_keeps_ageing_a_silent_loan_after_a_sigkill_and_restart(harness, tmp_path) -> None:
    """The clock index comes back with the table: ticks resume on the restarted worker.

    L-silent-1 never sends an event after its disbursement; only ticks age it. The
    worker is killed with SIGKILL once the loan is past due, and a new one starts
    on an empty data dir: it must rebuild the loan and its wake-up day from the
    changelog and carry it on to DPD 30 and 60.
    """
    from rules import encode_event as encode

    clock = {"LOANWATCH_WORKER__CLOCK_INTERVAL_S": "0.5"}
    topics = harness.local.topics
    producer = Producer(harness.local.kafka.ordered_producer_config())

    def send(events: list[Event]) -> None:
        for event in events:  # one partition: L-busy's events move L-silent-1's clock
            producer.produce(
                topics.events,
                key=event.loan_id.encode(),
                value=encode(event),
                partition=SHARED_PARTITION,
            )
        assert producer.flush(30) == 0

    harness.start("first", tmp_path / "data-first", **clock)
    collector = harness.collector()

    def opened(*pairs: tuple[str, str]):
        def holds(c) -> bool:
            got = {
                (w["loan_id"], w["rule_id"])
                for w in c.seen[topics.warnings]
                if w["status"] == "open"
            }
            return set(pairs) <= got

        return holds

    send(
        [_disbursed("L-busy"), _disbursed("L-silent-1")]
        + [_activity("L-busy", n) for n in range(1, 16)]
    )
    harness.wait(
        "L-silent-1 past due", opened(("L-silent-1", "dpd_1")), collector, alive=("first",)
    )
    harness.wait_committed(17, alive=("first",))
    harness.kill9("first")
    before = len(collector.seen[topics.warnings])

    harness.start("second", tmp_path / "data-second", **clock)
    send([_activity("L-busy", n) for n in range(16, 40)])
    harness.wait(
        "L-silent-1 aged by the restarted worker's clock",
        opened(("L-silent-1", "dpd_30"), ("L-silent-1", "dpd_60")),
        collector,
        timeout_s=120,
        alive=("second",),
    )
    collector.drain(2)
    assert collector.seen[topics.dlq] == [], harness.logs()
    later = [w for w in collector.seen[topics.warnings][before:] if w["loan_id"] == "L-silent-1"]
    by_clock = {w["rule_id"] for w in later if w["event_id"].startswith("clock:")}
    assert {"dpd_30", "dpd_60"} <= by_clock
    # Repeats after the kill (at-least-once) carry the same id and body.
    bodies: dict[tuple[str, str], dict[str, object]] = {}
    for w in collector.seen[topics.warnings]:
        body = {k: v for k, v in w.items() if k != "produced_at"}
        assert bodies.setdefault((w["warning_id"], w["status"]), body) == body


def test_exactly_once_ticks_after_a_partitions_last_event_still_age_its_loans(
    harness, tmp_path
) -> None:
    """Under exactly_once, ticks the clock sends after a partition's last event are judged.

    On each of two partitions a quiet loan is disbursed beside a mover, whose one
    later event, 96 days on, is the partition's last: only the ticks of that day
    can take the quiet loan past due. Faust would send a tick in the open
    transaction of its partition, which commits only together with consumed
    offsets; once the partition's last offset is committed (every 0.2 s here,
    the clock runs every 2 s), nothing would commit the ticks and the
    read_committed agent would never see them.
    """
    from rules import encode_event as encode

    topics = harness.local.topics
    harness.start(
        "eos",
        tmp_path / "data-eos",
        LOANWATCH_WORKER__PROCESSING_GUARANTEE="exactly_once",
        LOANWATCH_WORKER__CLOCK_INTERVAL_S="2",
        BROKER_COMMIT_INTERVAL="0.2",
    )
    collector = harness.collector(committed=True)
    producer = Producer(harness.local.kafka.ordered_producer_config())
    tags = "oh"  # L-quiet-o and L-mover-o on partition 0, -h on 1 (Kafka's default partitioner)
    for n in (0, 1):
        book = [
            _disbursed(f"L-quiet-{tags[n]}"),
            _disbursed(f"L-mover-{tags[n]}"),
            _activity(f"L-mover-{tags[n]}", 32),
        ]
        for event in book:
            producer.produce(
                topics.events, key=event.loan_id.encode(), value=encode(event), partition=n
            )
    assert producer.flush(30) == 0
    wanted = {(f"L-quiet-{t}", rule) for t in tags for rule in ("dpd_1", "dpd_30", "dpd_60")}

    def aged(c) -> bool:
        got = {(w["loan_id"], w["rule_id"]) for w in c.seen[topics.warnings]}
        return wanted <= got

    harness.wait("the quiet loans aged by ticks, committed", aged, collector, alive=("eos",))
    collector.drain(1)
    assert collector.seen[topics.dlq] == [], harness.logs()
