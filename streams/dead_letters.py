"""The dead-letter topic read back: list what was refused, and replay it once fixed.

Every letter holds a message exactly as its producer sent it (key and value)
and, in ``lw.*`` headers, why and where it was refused (`streams.dlq`). Once a
producer is fixed, or the worker is (a ``step failed`` letter), the letters can
go back to the events topic as they were. Replaying is safe to repeat: the
core drops an event whose ``event_id`` its loan has already seen.

Reading takes the topic from its first offset to the high watermark at the
start, with assigned partitions and no consumer group, so it never moves
anybody's offsets. What a letter would meet today is checked before it is sent:
`verdict` decodes it and checks its key as the worker would, so a replay never
fills the topic with messages that are bound to come straight back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from config import LoanwatchError, Settings
from rules import EventDecodeError, check_key, decode_event

__all__ = ["REPLAYED_FROM", "DeadLetterError", "Letter", "read_letters", "replay", "verdict"]

REPLAYED_FROM = "lw.replayed_from"
"""Header a replayed message carries: ``<dlq topic>:<partition>:<offset>`` of its letter."""


class DeadLetterError(LoanwatchError):
    """Replayed messages did not all reach the events topic; the message says how many."""


@dataclass(frozen=True, slots=True)
class Letter:
    """One dead letter: where it sits in the DLQ, the original message, and its headers."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]

    def header(self, name: str) -> str:
        return self.headers.get(name, b"").decode("utf-8", "replace")

    @property
    def place(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def reason(self) -> str:
        return self.header("lw.error")

    @property
    def source_topic(self) -> str:
        return self.header("lw.source.topic")

    @property
    def loan_id(self) -> str:
        return self.header("lw.loan_id")

    def matches(self, *, reason: str | None, loan: str | None, source: str | None) -> bool:
        """Whether the letter passes the filters (each ``None``: no filter)."""
        return (
            (reason is None or reason.lower() in self.reason.lower())
            and (loan is None or self.loan_id == loan)
            and (source is None or self.source_topic == source)
        )


def verdict(letter: Letter, max_bytes: int) -> str | None:
    """``None`` when the worker would take the letter's message today, else why not."""
    try:
        event = decode_event(letter.value, max_bytes=max_bytes)
        check_key(event, letter.key)
    except EventDecodeError as exc:
        return str(exc)
    return None


def read_letters(settings: Settings, *, timeout_s: float = 30.0) -> Iterator[Letter]:
    """Every letter of the DLQ topic, partition by partition, oldest first."""
    from confluent_kafka import Consumer, TopicPartition

    topic = settings.topics.dlq
    consumer = Consumer(
        {
            **settings.kafka.confluent_config(),
            "group.id": f"{settings.app_id}-dlq-reader",  # assigned, never subscribed
            "enable.auto.commit": False,
        }
    )
    try:
        found = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if found is None or found.error is not None:
            return
        for partition in sorted(found.partitions):
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=timeout_s
            )
            if high <= low:
                continue
            consumer.assign([TopicPartition(topic, partition, low)])
            yield from _partition(consumer, high, timeout_s)
    finally:
        consumer.close()


def _partition(consumer: Any, high: int, timeout_s: float) -> Iterator[Letter]:
    """The assigned partition's letters up to ``high``; transaction markers hold offsets
    no message has, so the end is the consumer's position, not the last message seen."""
    idle = 0.0
    while idle < timeout_s:
        msg = consumer.poll(0.5)
        if msg is None or msg.error() is not None:
            [position] = consumer.position(consumer.assignment())
            if position.offset >= high:
                return
            idle += 0.5
            continue
        idle = 0.0
        yield Letter(
            msg.partition(),
            msg.offset(),
            msg.key(),
            msg.value() or b"",
            {name: value or b"" for name, value in (msg.headers() or [])},
        )
        if msg.offset() + 1 >= high:
            return


def replay(
    settings: Settings,
    letters: list[Letter],
    *,
    force: bool = False,
    dry_run: bool = False,
    report: Callable[[Letter, str | None, bool], None] | None = None,
) -> tuple[int, int]:
    """Send letters back to the events topic as they were; returns (sent, held back).

    A letter the worker would refuse again is held back unless ``force``; with
    ``dry_run`` nothing is sent. ``report(letter, why_refused, sent)`` sees each.
    """
    from confluent_kafka import Producer

    producer = None if dry_run else Producer(settings.kafka.ordered_producer_config())
    failures: list[Any] = []
    sent = held = 0
    for letter in letters:
        why = verdict(letter, settings.max_event_bytes)
        go = why is None or force
        if go and producer is not None:
            producer.produce(
                settings.topics.events,
                key=letter.key,
                value=letter.value,
                headers=[(REPLAYED_FROM, f"{settings.topics.dlq}:{letter.place}".encode())],
                on_delivery=lambda err, _msg: failures.append(err) if err else None,
            )
            producer.poll(0)
        sent += go
        held += not go
        if report is not None:
            report(letter, why, go and not dry_run)
    if producer is not None:
        left = producer.flush(30)
        if left or failures:
            raise DeadLetterError(
                f"replay to {settings.topics.events}: {len(failures) + left} of {sent} "
                f"messages not delivered ({failures[0] if failures else 'flush timed out'})"
            )
    return sent, held
