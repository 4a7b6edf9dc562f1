"""The Kafka side every sink writer shares: its own group, batches, commit after write.

A writer polls a batch (`poll_batch`), writes it to its store, and only then
commits the batch's offsets (`commit_batch`). A crash between the two means a
redelivery, never a loss; each store makes a redelivered row a no-op (upsert by
id). Offsets are never auto-committed or auto-stored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from config import Settings

__all__ = ["SourceMessage", "batch_consumer", "commit_batch", "poll_batch"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourceMessage:
    """One consumed message: where it came from and its raw value."""

    topic: str
    partition: int
    offset: int
    value: bytes | None


def batch_consumer(settings: Settings, group_id: str, topics: Iterable[str]) -> Any:
    """A confluent-kafka consumer in its own group that commits only when told."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            **settings.kafka.confluent_config(),
            "group.id": group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            # A long store outage keeps the writer retrying without polling; stay in
            # the group for a while (a later eviction only means a redelivery).
            "max.poll.interval.ms": 900_000,
        }
    )
    consumer.subscribe(sorted(topics))
    return consumer


def poll_batch(
    consumer: Any, max_rows: int, max_wait_s: float, stop: threading.Event
) -> list[SourceMessage]:
    """Up to ``max_rows`` messages, waiting at most ``max_wait_s`` for them."""
    from confluent_kafka import KafkaError

    batch: list[SourceMessage] = []
    deadline = time.monotonic() + max_wait_s
    while len(batch) < max_rows and not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for msg in consumer.consume(max_rows - len(batch), timeout=min(left, 0.5)):
            error = msg.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("kafka: %s", error)
                continue
            topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
            if topic is None or partition is None or offset is None:
                continue  # never so for a consumed message; keeps the types honest
            batch.append(SourceMessage(topic, partition, offset, msg.value()))
    return batch


def commit_batch(consumer: Any, messages: Sequence[SourceMessage]) -> bool:
    """Commit past every message of the batch; False if Kafka refused (a rebalance)."""
    from confluent_kafka import KafkaException, TopicPartition

    ends: dict[tuple[str, int], int] = {}
    for m in messages:
        ends[(m.topic, m.partition)] = max(ends.get((m.topic, m.partition), -1), m.offset + 1)
    offsets = [TopicPartition(t, p, end) for (t, p), end in sorted(ends.items())]
    try:
        consumer.commit(offsets=offsets, asynchronous=False)
    except KafkaException as exc:
        # Typically a rebalance took the partitions: the new owner redelivers, and
        # the store's upsert by id makes the repeats no-ops. Nothing is lost.
        log.warning("offset commit failed (the batch will be redelivered): %s", exc)
        return False
    return True
