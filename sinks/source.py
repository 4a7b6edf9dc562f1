"""The Kafka side every sink writer shares: its own group, batches, commit after write.

A writer polls a batch (`poll_batch`), writes it to its store, and only then
commits the batch's offsets (`commit_batch`); `BatchWriter` is that loop, with the
store left to each subclass. A crash between the two means a
redelivery, never a loss; each store makes a redelivered row a no-op (upsert by
id). Offsets are never auto-committed or auto-stored.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple, TypedDict, TypeVar, Unpack

from config import Settings
from config.outage import REPORT_EVERY_S, Outage, kafka_client_hooks
from sinks.errors import WriterStopped
from sinks.metrics import SinkMetrics

__all__ = [
    "BatchWriter",
    "SourceMessage",
    "WriterOptions",
    "batch_consumer",
    "commit_batch",
    "poll_batch",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class SourceMessage(NamedTuple):
    """One consumed message: where it came from and its raw value.

    A named tuple rather than a frozen dataclass: a writer makes one per message,
    and a tuple is built in half the time.
    """

    topic: str
    partition: int
    offset: int
    value: bytes | None


def batch_consumer(
    settings: Settings, group_id: str, topics: Iterable[str], outage: Outage | None = None
) -> Any:
    """A confluent-kafka consumer in its own group that commits only when told.

    Its log lines go through Python logging and an unreachable broker is reported
    through ``outage`` (`config.outage`), not twenty lines a second on stderr.
    """
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            **settings.kafka.confluent_config(),
            **kafka_client_hooks(settings.kafka.bootstrap_servers, outage),
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
            # A message without an error always has its topic, partition and offset.
            batch.append(SourceMessage(msg.topic(), msg.partition(), msg.offset(), msg.value()))
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


class WriterOptions(TypedDict, total=False):
    """What every writer accepts besides its own arguments; `BatchWriter` has the defaults."""

    max_rows: int
    """Messages per batch at most."""
    max_wait_s: float
    """Seconds a batch may wait to fill."""
    backoff_initial_s: float
    """First wait after the store said "not now"; doubled at each retry..."""
    backoff_max_s: float
    """...up to this."""
    stop_event: threading.Event | None
    """Set it to stop `run` (and any retry) between batches."""
    consumer: Any
    """A consumer to use instead of `batch_consumer` (tests)."""
    metrics: SinkMetrics | None
    """Hooks told about batches, retries and outages (`sinks.metrics`)."""


class BatchWriter(ABC):
    """The loop every sink writer shares: poll a batch, store it, commit, until stopped.

    A subclass says how a batch is stored (`drain_once`) and how its store
    connection is closed (`close_store`); the base owns the consumer, the batch
    limits, the backoff limits, the stop event, and the degraded/recovered
    bookkeeping (one log line and one metric change per outage, never one per retry).
    Class attributes give each writer its default limits.
    """

    sink = ""
    """Short name used in logs and metric names (``redis``, ``clickhouse``)."""
    max_rows = 2_000
    max_wait_s = 0.2
    backoff_initial_s = 0.2
    backoff_max_s = 10.0

    def __init__(
        self,
        settings: Settings,
        topics: Iterable[str],
        group_id: str,
        **options: Unpack[WriterOptions],
    ) -> None:
        self.settings = settings
        self.group_id = group_id
        self.max_rows = options.get("max_rows", self.max_rows)
        self.max_wait_s = options.get("max_wait_s", self.max_wait_s)
        self.backoff_initial_s = options.get("backoff_initial_s", self.backoff_initial_s)
        self.backoff_max_s = options.get("backoff_max_s", self.backoff_max_s)
        if (
            self.max_rows < 1
            or self.max_wait_s <= 0
            or not 0 < self.backoff_initial_s <= self.backoff_max_s
        ):
            raise ValueError("max_rows >= 1, max_wait_s > 0, 0 < backoff_initial <= max")
        self.stop_event = options.get("stop_event") or threading.Event()
        self.metrics = options.get("metrics") or SinkMetrics()
        self.degraded = False
        self._degraded_said = 0.0
        self.kafka_outage = Outage("Kafka", settings.kafka.bootstrap_servers)
        consumer = options.get("consumer")
        self.consumer = (
            consumer
            if consumer is not None
            else batch_consumer(settings, group_id, topics, self.kafka_outage)
        )

    @abstractmethod
    def drain_once(self) -> Any:
        """Poll one batch, store it, commit its offsets; return what happened."""

    @abstractmethod
    def close_store(self) -> None:
        """Close the store's connection."""

    def run(self) -> None:
        """Drain until the stop event is set, then close the consumer (leaving the group)."""
        try:
            while not self.stop_event.is_set():
                self.drain_once()
        finally:
            self.close()

    def close(self) -> None:
        self.consumer.close()
        self.close_store()

    def _poll_batch(self) -> list[SourceMessage]:
        batch = poll_batch(self.consumer, self.max_rows, self.max_wait_s, self.stop_event)
        if self.kafka_outage.down and (batch or self.consumer.assignment()):
            self.kafka_outage.recovered()
        return batch

    def _commit(self, messages: Sequence[SourceMessage], started: float) -> bool:
        committed = commit_batch(self.consumer, messages)
        if committed:
            self.metrics.batch_written(self.sink, len(messages), time.monotonic() - started)
        return committed

    def _retry(
        self,
        action: Callable[[], _T],
        transient: tuple[type[BaseException], ...],
        result: Any,
    ) -> _T:
        """``action()``, retried with capped exponential backoff while it raises ``transient``.

        Counts attempts in ``result.retries``; raises `WriterStopped` when the stop
        event is set while waiting.
        """
        delay = self.backoff_initial_s
        while True:
            try:
                done = action()
            except transient as exc:
                result.retries += 1
                if self._unavailable(exc, delay):
                    raise WriterStopped(f"{self.sink} writer stopped while retrying") from exc
                delay = min(delay * 2, self.backoff_max_s)
                continue
            self._available(result.retries)
            return done

    def _unavailable(self, exc: BaseException, delay: float) -> bool:
        """Note one failed attempt, then wait ``delay``; True when stopped meanwhile."""
        self.metrics.retried(self.sink)
        now = time.monotonic()
        if not self.degraded:
            self.degraded = True
            self._degraded_said = now
            self.metrics.degraded(self.sink, True)
            log.warning(
                "%s sink degraded (%s); keeping the batch and retrying with backoff, "
                "reporting once a minute",
                self.sink,
                exc,
            )
        elif now - self._degraded_said >= REPORT_EVERY_S:
            self._degraded_said = now
            log.warning("%s sink still unavailable (%s); still retrying", self.sink, exc)
        else:
            log.debug("%s still unavailable (%s); retrying in %.1fs", self.sink, exc, delay)
        return self.stop_event.wait(delay)

    def _available(self, retries: int) -> None:
        """The store took a write: if it had been away, say once that it is back."""
        if self.degraded:
            self.degraded = False
            self.metrics.degraded(self.sink, False)
            log.warning("%s sink recovered after %d retries", self.sink, retries)
