"""Send a simulated book to Kafka at a chosen pace, or write it to a file for replays.

Messages are keyed by ``loan_id`` (all of a loan's events on one partition, in
order), placed by Kafka's default partitioner, murmur2, as Java clients place
them (`config.KafkaSettings.producer_config`; librdkafka's own default, crc32,
would put a loan elsewhere), and valued with `rules.encode_event`, exactly as a
real producer must (docs/events.md, "Keys and partitions").
The producer is idempotent, so broker retries cannot duplicate or reorder a
loan's events. Every delivery report is counted: a message that failed, or
that was still undelivered when the final flush gave up, is reported as
failed, never silently lost.

>>> bucket = TokenBucket(rate=10.0, clock=lambda: 0.0, sleep=lambda s: None)
>>> bucket.burst
1.0
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import orjson
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from config import Settings
from config.outage import kafka_client_hooks
from rules import Event, encode_event
from streams.simulate.exceptions import SimulateError
from streams.simulate.truth import LoanLabel

__all__ = [
    "PRODUCER_TUNING",
    "ProduceReport",
    "TokenBucket",
    "produce_book",
    "write_book",
    "write_labels",
]

PRODUCER_TUNING: Final[dict[str, str | int | bool]] = {
    "linger.ms": 20,  # wait a little to fill batches: far fewer requests at high rates
    "batch.size": 1_000_000,
    "compression.type": "lz4",  # cheap on CPU; JSON events compress several-fold
    "queue.buffering.max.messages": 500_000,
    "queue.buffering.max.kbytes": 512 * 1024,
    "message.timeout.ms": 120_000,
}
"""librdkafka settings added to the configured connection for bulk sending."""

_POLL_EVERY: Final = 1_000
_ERRORS_KEPT: Final = 10


class TokenBucket:
    """Paces calls to ``rate`` per second on average, allowing bursts of ``burst``.

    The default burst is 50 ms worth of tokens: smooth enough to look like a
    live feed, coarse enough that sleeping is not the bottleneck.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise SimulateError(f"rate must be more than 0 events/s, got {rate}")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 20)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()

    def take(self) -> None:
        """Block until a token is available, then use it."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens < 1:
            wait = (1 - self._tokens) / self.rate
            self._sleep(wait)
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
        self._tokens -= 1


@dataclass(frozen=True, slots=True)
class ProduceReport:
    """What happened to every message handed to the producer."""

    topic: str
    produced: int
    """Messages handed to the client."""
    delivered: int
    """Acknowledged by the broker."""
    failed: int
    """Refused, reported failed, or not delivered by the end of the final flush."""
    elapsed_s: float
    target_rate: float | None
    errors: tuple[str, ...] = field(default=())
    """The first few distinct failure reasons."""

    @property
    def rate(self) -> float:
        """Achieved delivered events per second, start of sending to end of flush."""
        return self.delivered / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.delivered == self.produced


class _Deliveries:
    """Delivery-report bookkeeping, called from the producer's poll loop."""

    def __init__(self) -> None:
        self.delivered = 0
        self.failed = 0
        self.errors: list[str] = []

    def __call__(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.fail(str(err))

    def fail(self, reason: str) -> None:
        self.failed += 1
        if len(self.errors) < _ERRORS_KEPT and reason not in self.errors:
            self.errors.append(reason)


def produce_book(
    settings: Settings,
    book: Iterable[Event],
    *,
    rate: float | None,
    topic: str | None = None,
    flush_timeout_s: float = 120.0,
) -> ProduceReport:
    """Produce every event of ``book`` to ``topic`` (default: the events topic).

    ``rate`` is a target in events per second (a token bucket); ``None`` sends
    as fast as the client accepts. Returns once everything is delivered or the
    flush timed out; the report says which.
    """
    name = topic or settings.topics.events
    bucket = TokenBucket(rate) if rate is not None else None
    producer = Producer(
        {
            **settings.kafka.ordered_producer_config(),
            **PRODUCER_TUNING,
            **kafka_client_hooks(settings.kafka.bootstrap_servers),
        }
    )
    reports = _Deliveries()
    produced = 0
    started = time.monotonic()
    for event in book:
        if bucket is not None:
            bucket.take()
        key = event.loan_id.encode()
        value = encode_event(event)
        produced += 1
        while True:
            try:
                producer.produce(name, value=value, key=key, on_delivery=reports)
                break
            except BufferError:
                producer.poll(0.05)  # the local queue is full: serve reports, then retry
            except KafkaException as exc:
                reports.fail(str(exc.args[0]))
                break
        if produced % _POLL_EVERY == 0:
            producer.poll(0)
    undelivered = producer.flush(flush_timeout_s)
    elapsed = time.monotonic() - started
    for _ in range(undelivered):
        reports.fail(f"not delivered within the {flush_timeout_s:g}s flush timeout")
    return ProduceReport(
        topic=name,
        produced=produced,
        delivered=reports.delivered,
        failed=reports.failed,
        elapsed_s=elapsed,
        target_rate=rate,
        errors=tuple(reports.errors),
    )


def write_book(book: Iterable[Event], path: Path) -> int:
    """Write the events as JSON lines (the wire encoding), for replays and benchmarks.

    Written to a temporary file and renamed, so a file at ``path`` is always
    complete. Returns the number of events written.
    """
    return _write_lines((encode_event(event) for event in book), path)


def write_labels(labels: Iterable[LoanLabel], path: Path) -> int:
    """Write the ground truth, one JSON object per loan, atomically like `write_book`."""
    return _write_lines((orjson.dumps(label.to_json()) for label in labels), path)


def _write_lines(lines: Iterable[bytes], path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    count = 0
    try:
        with partial.open("wb", buffering=1 << 20) as out:
            for line in lines:
                out.write(line)
                out.write(b"\n")
                count += 1
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return count
