"""A round trip of real events through Kafka, Redis and ClickHouse.

This is what `loanwatch smoke` runs: it
proves, on the local stack or any configured one, that the contract, the
clients, TLS/credential settings and the three servers fit together. It
produces a small loan book to the events topic (plus one malformed message),
reads exactly those messages back, decodes them, writes a per-loan card to
Redis and the events to ClickHouse, and reads both back to compare counts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from clickhouse_driver import Client
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from config import Settings
from rules import (
    Event,
    EventDecodeError,
    RepaymentReceived,
    decode_event,
    encode_event,
)
from sinks.clickhouse import Column, Kind, ServerFeatures, Table, create_table_sql
from streams.simulate import sample_loan

__all__ = ["SMOKE_EVENTS", "SmokeReport", "run_smoke", "sample_book"]

SMOKE_EVENTS = Table(
    "smoke_events",
    (
        Column("run_id", Kind.STRING),
        Column("event_id", Kind.STRING),
        Column("loan_id", Kind.STRING),
        Column("type", Kind.LABEL),
        Column("event_time", Kind.TIME),
    ),
    order_by=("run_id", "loan_id", "event_time"),
    partition_by="toYYYYMM(event_time)",
)
_TABLE = SMOKE_EVENTS.name


@dataclass(frozen=True, slots=True)
class SmokeReport:
    """What came back from each server, next to what was sent."""

    run_id: str
    produced: int
    consumed: int
    decoded: int
    rejected: tuple[str, ...]
    redis_cards: int
    clickhouse_rows: int
    expected_good: int
    expected_loans: int
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.consumed == self.produced
            and self.decoded == self.expected_good
            and len(self.rejected) == self.produced - self.expected_good
            and self.redis_cards == self.expected_loans
            and self.clickhouse_rows == self.expected_good
        )


def sample_book(run_id: str, loans: int, start: datetime) -> list[Event]:
    """A disbursement and two installments repaid for each of ``loans`` loans."""
    events: list[Event] = []
    for n in range(loans):
        loan_id = f"smoke-{run_id}-{n}"
        common: dict[str, Any] = {
            "loan_id": loan_id,
            "borrower_id": f"bw-{run_id}-{n}",
            "schema_version": 1,
        }
        first_due = (start + timedelta(days=30)).date()
        events.append(
            sample_loan(
                loan_id,
                start,
                first_due=first_due,
                installments=3,
                principal=100_000,
                interest=1_500,
                borrower_id=common["borrower_id"],
                account=f"acct-{run_id}-{n}",
                source="core-banking",
                rate_bps=1_800,
            )
        )
        for i in range(2):
            events.append(
                RepaymentReceived(
                    event_id=f"{loan_id}-r{i + 1}",
                    event_time=start + timedelta(days=30 * (i + 1)),
                    source="payment-gateway",
                    amount=101_500,
                    kind="full",
                    payer_account=f"acct-{run_id}-{n}",
                    payer_is_third_party=False,
                    channel="auto-debit",
                    **common,
                )
            )
    return events


def run_smoke(settings: Settings, *, loans: int = 5, timeout_s: float = 60.0) -> SmokeReport:
    """Send a small book through all three servers and report what came back."""
    run_id = uuid.uuid4().hex[:8]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=90)
    good = sample_book(run_id, loans, start)
    poison = b'{"type": "repayment_received", "event_id": "smoke-poison", "amount": 12.5}'
    messages = [(event.loan_id.encode(), encode_event(event)) for event in good]
    messages.append((f"smoke-{run_id}-poison".encode(), poison))

    delivered = _produce(settings, messages)
    raw = _consume(settings, delivered, timeout_s)
    decoded: list[Event] = []
    rejected: list[str] = []
    for value in raw:
        try:
            decoded.append(decode_event(value))
        except EventDecodeError as exc:
            rejected.append(str(exc))

    cards = _redis_round_trip(settings, run_id, decoded)
    rows = _clickhouse_round_trip(settings, run_id, decoded)
    return SmokeReport(
        run_id=run_id,
        produced=len(messages),
        consumed=len(raw),
        decoded=len(decoded),
        rejected=tuple(rejected),
        redis_cards=cards,
        clickhouse_rows=rows,
        expected_good=len(good),
        expected_loans=loans,
    )


def _produce(settings: Settings, messages: list[tuple[bytes, bytes]]) -> list[Message]:
    producer = Producer(settings.kafka.ordered_producer_config())
    delivered: list[Message] = []
    failures: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            failures.append(err)
        else:
            delivered.append(msg)

    for key, value in messages:
        producer.produce(settings.topics.events, key=key, value=value, on_delivery=on_delivery)
    producer.flush(30)
    if failures or len(delivered) != len(messages):
        raise RuntimeError(f"Kafka delivery failed: {failures or 'timed out'}")
    return delivered


def _place(msg: Message) -> tuple[int, int]:
    """(partition, offset) of a produced or consumed message, which always has both."""
    partition, offset = msg.partition(), msg.offset()
    if partition is None or offset is None:
        raise ValueError("a Kafka message without partition or offset")
    return partition, offset


def _consume(settings: Settings, delivered: list[Message], timeout_s: float) -> list[bytes]:
    """Read back exactly the offsets we produced, whatever else is in the topic."""
    wanted = {_place(m) for m in delivered}
    starts: dict[int, int] = {}
    for partition, offset in wanted:
        starts[partition] = min(offset, starts.get(partition, offset))
    consumer = Consumer(
        {
            **settings.kafka.confluent_config(),
            "group.id": f"{settings.app_id}-smoke",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(settings.topics.events, p, o) for p, o in starts.items()])
    found: dict[tuple[int, int], bytes] = {}
    deadline = datetime.now(UTC) + timedelta(seconds=timeout_s)
    try:
        while len(found) < len(wanted) and datetime.now(UTC) < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            where = _place(msg)
            if where in wanted:
                found[where] = msg.value() or b""
    finally:
        consumer.close()
    return [found[key] for key in sorted(found)]


def _redis_round_trip(settings: Settings, run_id: str, events: list[Event]) -> int:
    client = redis.Redis.from_url(settings.redis.url, **settings.redis.client_kwargs())
    prefix = f"{settings.redis.key_prefix}smoke:{run_id}:loan:"
    try:
        pipe = client.pipeline(transaction=False)
        for event in events:
            key = prefix + event.loan_id
            pipe.hset(key, mapping={"last_event": event.type, "last_event_id": event.event_id})
            pipe.hincrby(key, "events", 1)
            pipe.expire(key, 3600)
        pipe.execute()
        keys = sorted({prefix + event.loan_id for event in events})
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        cards = pipe.execute()
        return sum(1 for card in cards if card.get(b"events") == b"3")
    finally:
        client.close()


def _clickhouse_round_trip(settings: Settings, run_id: str, events: list[Event]) -> int:
    database = settings.clickhouse.database
    admin = Client(**settings.clickhouse.driver_kwargs(database="default"))
    try:
        admin.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
    finally:
        admin.disconnect()
    client = Client(**settings.clickhouse.driver_kwargs())
    try:
        client.execute(create_table_sql(SMOKE_EVENTS, ServerFeatures.of(client), database))
        columns = [
            [run_id] * len(events),
            [e.event_id for e in events],
            [e.loan_id for e in events],
            [e.type for e in events],
            [e.event_time for e in events],
        ]
        client.execute(
            f"INSERT INTO {_TABLE} (run_id, event_id, loan_id, type, event_time) VALUES",
            columns,
            columnar=True,
        )
        result = client.execute(
            f"SELECT count() FROM {_TABLE} WHERE run_id = %(run_id)s",  # noqa: S608 - constant name
            {"run_id": run_id},
        )
        return int(result[0][0])
    finally:
        client.disconnect()
