"""Sending a book: pacing, keys and values, failures counted, files written whole."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaError, KafkaException

from config import Settings
from rules import Event, decode_event, encode_event
from streams.simulate import (
    BookSpec,
    LoanBook,
    SimulateError,
    TokenBucket,
    produce_book,
    simulate_command,
    write_book,
)
from streams.simulate import command as command_module
from streams.simulate import producer as producer_module

Delivery = Callable[[KafkaError | None, Any], None]


class FakeProducer:
    """Stands in for confluent_kafka.Producer; delivers on poll/flush like librdkafka."""

    instances: list[FakeProducer] = []
    knobs: dict[str, int] = {}

    def __init__(self, conf: dict[str, Any]) -> None:
        self.conf = conf
        self.queue: list[tuple[str, bytes, bytes, Delivery]] = []
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.fail_every = self.knobs.get("fail_every", 0)
        self.full_every = self.knobs.get("full_every", 0)
        self.refuse_every = self.knobs.get("refuse_every", 0)
        self.stuck_at_flush = self.knobs.get("stuck_at_flush", 0)
        self.calls = 0
        self.reports = 0
        FakeProducer.instances.append(self)

    def produce(self, topic: str, *, value: bytes, key: bytes, on_delivery: Delivery) -> None:
        self.calls += 1
        if self.full_every and self.calls % self.full_every == 0:
            raise BufferError("Local: Queue full")
        if self.refuse_every and self.calls % self.refuse_every == 0:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE, "too large"))
        self.queue.append((topic, key, value, on_delivery))

    def poll(self, timeout: float = 0) -> int:
        served = 0
        while self.queue:
            topic, key, value, callback = self.queue.pop(0)
            served += 1
            self.reports += 1
            if self.fail_every and self.reports % self.fail_every == 0:
                callback(KafkaError(KafkaError._MSG_TIMED_OUT, "timed out"), None)
            else:
                self.sent.append((topic, key, value))
                callback(None, None)
        return served

    def flush(self, timeout: float = 0) -> int:
        stuck = self.queue[len(self.queue) - self.stuck_at_flush :] if self.stuck_at_flush else []
        self.queue = self.queue[: len(self.queue) - len(stuck)]
        self.poll()
        return len(stuck)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeProducer]]:
    FakeProducer.instances = []
    FakeProducer.knobs = {}
    monkeypatch.setattr(producer_module, "Producer", FakeProducer)
    yield FakeProducer


@pytest.fixture
def settings() -> Settings:
    return Settings(kafka={"bootstrap_servers": "127.0.0.1:1"})


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return list(LoanBook(BookSpec(loans=30, months=4, seed=8)))


def _configure(fake: type[FakeProducer], **knobs: int) -> None:
    fake.knobs = knobs


def test_events_go_to_the_events_topic_keyed_by_loan_with_the_wire_encoding(
    fake: type[FakeProducer], settings: Settings, events: list[Event]
) -> None:
    report = produce_book(settings, events, rate=None)
    producer = fake.instances[0]
    assert producer.sent == [
        (settings.topics.events, e.loan_id.encode(), encode_event(e)) for e in events
    ]
    assert report.ok and report.produced == report.delivered == len(events)
    assert report.topic == settings.topics.events and report.rate > 0


def test_the_producer_is_idempotent_compressed_and_batched(
    fake: type[FakeProducer], settings: Settings, events: list[Event]
) -> None:
    produce_book(settings, events[:5], rate=None, topic="elsewhere")
    conf = fake.instances[0].conf
    assert conf["bootstrap.servers"] == "127.0.0.1:1"
    assert conf["enable.idempotence"] is True
    assert conf["compression.type"] == "lz4"
    assert conf["linger.ms"] > 0
    assert fake.instances[0].sent[0][0] == "elsewhere"


def test_failed_deliveries_are_counted_and_reported_not_dropped(
    fake: type[FakeProducer], settings: Settings, events: list[Event]
) -> None:
    _configure(fake, fail_every=7)
    report = produce_book(settings, events, rate=None)
    assert report.failed == len(events) // 7
    assert report.delivered + report.failed == report.produced == len(events)
    assert not report.ok
    assert any("timed out" in error for error in report.errors)


def test_a_full_local_queue_is_waited_out_and_nothing_is_lost(
    fake: type[FakeProducer], settings: Settings, events: list[Event]
) -> None:
    _configure(fake, full_every=5)
    report = produce_book(settings, events, rate=None)
    assert report.ok and report.delivered == len(events)
    assert [value for _, _, value in fake.instances[0].sent] == [encode_event(e) for e in events]


def test_messages_refused_at_once_or_left_after_flush_count_as_failed(
    fake: type[FakeProducer], settings: Settings, events: list[Event]
) -> None:
    _configure(fake, refuse_every=10, stuck_at_flush=3)
    report = produce_book(settings, events, rate=None)
    refused = len(events) // 10
    assert report.failed == refused + 3
    assert report.delivered == len(events) - refused - 3
    assert any("flush timeout" in error for error in report.errors)
    assert any("too large" in error for error in report.errors)


def test_the_token_bucket_holds_the_average_rate() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = TokenBucket(200.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(1_000):
        bucket.take()
    # The first burst is free; the rest arrive at exactly 200/s.
    assert now[0] == pytest.approx((1_000 - bucket.burst) / 200.0, rel=1e-6)


def test_the_token_bucket_does_not_sleep_when_calls_are_slow_enough() -> None:
    now = [0.0]
    slept: list[float] = []
    bucket = TokenBucket(10.0, clock=lambda: now[0], sleep=slept.append)
    for _ in range(20):
        now[0] += 0.2
        bucket.take()
    assert slept == []


@pytest.mark.parametrize("rate", [0.0, -5.0])
def test_a_rate_that_is_not_positive_is_refused(rate: float) -> None:
    with pytest.raises(SimulateError, match="rate"):
        TokenBucket(rate)


def test_write_book_writes_decodable_json_lines(tmp_path: Path, events: list[Event]) -> None:
    path = tmp_path / "run" / "events.jsonl"
    assert write_book(events, path) == len(events)
    lines = path.read_bytes().splitlines()
    assert lines == [encode_event(e) for e in events]
    assert [decode_event(line) for line in lines[:50]] == events[:50]
    assert [p.name for p in path.parent.iterdir()] == ["events.jsonl"]


def test_write_book_leaves_no_file_when_generation_fails(
    tmp_path: Path, events: list[Event]
) -> None:
    def broken() -> Iterator[Event]:
        yield from events[:10]
        raise RuntimeError("generator died")

    path = tmp_path / "events.jsonl"
    with pytest.raises(RuntimeError):
        write_book(broken(), path)
    assert list(tmp_path.iterdir()) == []


def test_simulate_command_to_a_file_writes_events_and_labels(
    tmp_path: Path, settings: Settings
) -> None:
    events_path, labels_path = tmp_path / "events.jsonl", tmp_path / "labels.jsonl"
    summary = simulate_command(
        settings,
        loans=40,
        months=6,
        seed=3,
        rate=None,
        labels_path=labels_path,
        to_file=events_path,
    )
    lines = events_path.read_bytes().splitlines()
    assert summary.events == len(lines) == sum(summary.by_type.values())
    assert summary.produce is None and summary.ok and summary.events_path == events_path
    labels = [orjson.loads(line) for line in labels_path.read_bytes().splitlines()]
    assert len(labels) == 40 == sum(summary.by_profile.values())
    assert [row["loan_id"] for row in labels] == [f"sim-3-{i:07d}" for i in range(40)]
    assert lines == [encode_event(e) for e in LoanBook(BookSpec(loans=40, months=6, seed=3))]


def test_simulate_command_to_kafka_creates_topics_and_produces_at_the_rate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings
) -> None:
    calls: dict[str, Any] = {}

    def fake_produce(
        settings: Settings, book: Any, *, rate: float | None, topic: str | None
    ) -> Any:
        calls["rate"], calls["topic"] = rate, topic
        calls["events"] = sum(1 for _ in book)
        return producer_module.ProduceReport(
            topic=topic or settings.topics.events,
            produced=calls["events"],
            delivered=calls["events"],
            failed=0,
            elapsed_s=1.0,
            target_rate=rate,
        )

    monkeypatch.setattr(command_module, "produce_book", fake_produce)
    monkeypatch.setattr(command_module, "ensure_topics", lambda s: calls.setdefault("ensured", s))
    summary = simulate_command(
        settings,
        loans=10,
        months=3,
        seed=1,
        rate=500.0,
        labels_path=tmp_path / "labels.jsonl",
        to_file=None,
    )
    assert calls["rate"] == 500.0 and calls["topic"] is None and calls["ensured"] is settings
    assert summary.events == calls["events"] and summary.ok
    assert summary.produce is not None and summary.produce.delivered == summary.events


def test_simulate_command_refuses_a_rate_that_is_not_positive(
    tmp_path: Path, settings: Settings
) -> None:
    with pytest.raises(SimulateError, match="rate"):
        simulate_command(
            settings,
            loans=1,
            months=1,
            seed=1,
            rate=0,
            labels_path=tmp_path / "l.jsonl",
            to_file=None,
        )
