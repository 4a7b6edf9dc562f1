"""A simulated book through the real local Kafka: everything arrives, keyed, in per-loan order."""

from __future__ import annotations

import time
import uuid
import zlib
from collections import defaultdict

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from config import Settings
from rules import Event, decode_event
from streams.partitioning import key_partition
from streams.simulate import BookSpec, LoanBook, produce_book


def _consume_all(settings: Settings, topic: str, expected: int, timeout_s: float = 60.0) -> list:
    consumer = Consumer(
        {
            **settings.kafka.confluent_config(),
            "group.id": f"test-{topic}",
            "enable.auto.commit": False,
        }
    )
    metadata = consumer.list_topics(topic, timeout=10)
    partitions = sorted(metadata.topics[topic].partitions)
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    messages = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=1_000, timeout=0.5):
                if msg.error() is None:
                    messages.append(msg)
        # Anything beyond what we sent would be a duplicate: give it a moment to show.
        for msg in consumer.consume(num_messages=1_000, timeout=1.0):
            if msg.error() is None:
                messages.append(msg)
    finally:
        consumer.close()
    return messages


def test_a_book_produced_to_kafka_comes_back_whole_keyed_and_in_loan_order(
    settings: Settings, stack: object, topic: str
) -> None:
    book = list(LoanBook(BookSpec(loans=40, months=6, seed=21)))
    report = produce_book(settings, book, rate=None, topic=topic)
    assert report.ok, report.errors
    assert report.produced == report.delivered == len(book)

    messages = _consume_all(settings, topic, len(book))
    assert len(messages) == len(book)  # nothing lost, nothing duplicated

    sent: dict[str, list[str]] = defaultdict(list)
    for event in book:
        sent[event.loan_id].append(event.event_id)
    received: dict[str, list[Event]] = defaultdict(list)
    partitions: dict[str, set[int]] = defaultdict(set)
    for msg in messages:
        event = decode_event(msg.value())
        assert msg.key() == event.loan_id.encode()
        received[event.loan_id].append(event)
        partitions[event.loan_id].add(msg.partition())
    # Messages of one partition come back in offset order, so per-loan order is the order sent.
    assert {loan: [e.event_id for e in events] for loan, events in received.items()} == sent
    assert all(len(p) == 1 for p in partitions.values())  # one loan, one partition
    assert len({p for ps in partitions.values() for p in ps}) == 2  # keys spread the book
    for events in received.values():
        times = [e.event_time for e in events]
        assert times == sorted(times)


def test_each_loan_lands_on_the_partition_javas_murmur2_gives_its_key(
    settings: Settings, stack: object, kafka_admin: AdminClient
) -> None:
    topic = f"test.murmur2.{uuid.uuid4().hex[:8]}"
    kafka_admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])[
        topic
    ].result(timeout=30)
    try:
        book = list(LoanBook(BookSpec(loans=30, months=2, seed=5)))
        loans = {event.loan_id.encode() for event in book}
        # librdkafka's default (crc32) would put some of these loans elsewhere.
        assert any(zlib.crc32(key) % 6 != key_partition(key, 6) for key in loans)
        report = produce_book(settings, book, rate=None, topic=topic)
        assert report.ok, report.errors

        messages = _consume_all(settings, topic, len(book))
        assert len(messages) == len(book)
        landed = {(msg.key(), msg.partition()) for msg in messages}
        assert landed == {(key, key_partition(key, 6)) for key in loans}
    finally:
        kafka_admin.delete_topics([topic])[topic].result(timeout=30)


def test_a_target_rate_is_never_exceeded(settings: Settings, stack: object, topic: str) -> None:
    book = list(LoanBook(BookSpec(loans=30, months=6, seed=4)))[:1_000]
    assert len(book) == 1_000
    report = produce_book(settings, book, rate=500.0, topic=topic)
    assert report.ok, report.errors
    # After a 25-event burst the bucket lets one event through every 2 ms: 1.95 s at least.
    assert report.elapsed_s >= (1_000 - 25) / 500.0
    assert report.rate <= 500.0 * 1_000 / 975  # the target, plus only the initial burst
