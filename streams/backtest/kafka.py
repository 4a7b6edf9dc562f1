"""Reading an event history from a Kafka topic, between two positions of every partition.

``kafka:TOPIC[@START..END]`` names the history (docs/backtest.md). START and
END are each either an offset, applied to every partition, or an ISO time with
its UTC offset, which Kafka turns into each partition's first offset whose
message *timestamp* is at or after it (``offsets_for_times``; the timestamp is
when the message was produced unless the producer set one, not the event's
``event_time``). START is included and END excluded, like the high
watermark; either may be left out (``@1000..``, ``@..5000``). The range is
clamped to what the partition holds, and fixed once, when first asked for:
nothing produced after that is read, however often the history is read again.

Each partition is read by its own consumer, assigned (no group membership, no
commits), so the replay can pull from whichever partition holds the next
event. The partitions are merged by event time, ties broken by partition,
then offset; each partition's own order, which is the order the worker judges
a loan's events in, is kept as it is even where its event times go backwards.

A message that is not an event, an empty one, or one whose key is not its
``loan_id`` (`rules.check_key`, as the worker refuses it) is a `BadMessage`
with its topic, partition and offset, never fatal.

>>> TopicRange.parse("kafka:postloan.events@1000..5000")
TopicRange(topic='postloan.events', start=1000, end=5000, text='kafka:postloan.events@1000..5000')
>>> TopicRange.parse("kafka:postloan.events@2024-01-01T00:00:00+08:00..").start.isoformat()
'2024-01-01T00:00:00+08:00'
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from heapq import merge
from typing import Any

from rules import Event, EventDecodeError, check_key, decode_event
from streams.backtest.exceptions import BacktestError
from streams.backtest.history import BadInput, BadMessage

__all__ = ["PREFIX", "KafkaHistory", "PartitionSpan", "TopicRange", "merge_partitions"]

PREFIX = "kafka:"
_BATCH = 1000
_PAST_THE_END = 1 << 62
"""Stands for "no message at or after that time": clamped to the partition's end."""
Bound = int | datetime | None


def _bound(text: str, whole: str) -> Bound:
    if not text:
        return None
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BacktestError(
            f"history {whole}: {text!r} is neither an offset nor an ISO time"
        ) from None
    if moment.tzinfo is None:
        raise BacktestError(f"history {whole}: time {text!r} needs its UTC offset (+08:00, Z)")
    return moment


@dataclass(frozen=True, slots=True)
class TopicRange:
    """A topic and the positions to read it between, as the user wrote them."""

    topic: str
    start: Bound = None
    end: Bound = None
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> TopicRange:
        """``kafka:TOPIC``, ``kafka:TOPIC@START..END`` (either side may be empty)."""
        if not text.startswith(PREFIX):
            raise BacktestError(f"history {text}: a topic is named kafka:TOPIC[@START..END]")
        topic, at, span = text[len(PREFIX) :].partition("@")
        if not topic:
            raise BacktestError(f"history {text}: no topic named")
        if not at:
            return cls(topic, text=text)
        first, dots, last = span.partition("..")
        if not dots:
            raise BacktestError(f"history {text}: the range is START..END")
        return cls(topic, _bound(first, text), _bound(last, text), text)


@dataclass(frozen=True, slots=True)
class PartitionSpan:
    """The offsets of one partition to read: ``start`` included, ``end`` excluded."""

    partition: int
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.partition}:{self.start}..{self.end}"


Located = tuple[Event, int, int]
"""An event with the partition and offset it was read at."""


def merge_partitions(partitions: Iterable[Iterator[Located]]) -> Iterator[Event]:
    """Interleave the partitions by event time (ties: partition, then offset).

    A merge, not a sort: each partition's own order is kept, and nothing is
    held beyond one event per partition.

    >>> from datetime import UTC
    >>> from types import SimpleNamespace as E
    >>> def at(h): return datetime(2024, 1, 1, h, tzinfo=UTC)
    >>> p0 = iter([(E(event_time=at(1), n="a"), 0, 0), (E(event_time=at(3), n="b"), 0, 1)])
    >>> p1 = iter([(E(event_time=at(1), n="c"), 1, 0), (E(event_time=at(2), n="d"), 1, 1)])
    >>> [e.n for e in merge_partitions([p1, p0])]
    ['a', 'c', 'd', 'b']
    """
    for event, _partition, _offset in merge(
        *partitions, key=lambda located: (located[0].event_time, located[1], located[2])
    ):
        yield event


def _clamp(wanted: int | None, low: int, high: int, default: int) -> int:
    return min(max(default if wanted is None else wanted, low), high)


@dataclass
class KafkaHistory:
    """The events of a topic between two positions, partitions merged by event time."""

    config: Mapping[str, str]
    """The client settings (`KafkaSettings.confluent_config()`)."""
    range: TopicRange
    timeout_s: float = 30.0
    """How long a metadata call, or a partition without any message, may take."""
    bad_messages: list[BadMessage] = field(default_factory=list)
    position: int = 0
    """Messages read so far."""
    _spans: tuple[PartitionSpan, ...] | None = None

    @property
    def source(self) -> str:
        return f"{self.range.text} ({', '.join(map(str, self.spans()))})"

    @property
    def size(self) -> int:
        return sum(span.end - span.start for span in self.spans())

    @property
    def bad(self) -> Sequence[BadInput]:
        return self.bad_messages

    def spans(self) -> tuple[PartitionSpan, ...]:
        """Each partition's offsets to read, fixed at the first call."""
        if self._spans is None:
            self._spans = self._resolve()
        return self._spans

    def __iter__(self) -> Iterator[Event]:
        self.bad_messages.clear()
        self.position = 0
        readers = [self._read(span) for span in self.spans() if span.end > span.start]
        try:
            yield from merge_partitions(readers)
        finally:
            for reader in readers:
                reader.close()
        self.bad_messages.sort(key=lambda bad: (bad.partition, bad.offset))

    def _consumer(self) -> Any:
        from confluent_kafka import Consumer

        return Consumer(
            {
                **self.config,
                # Required by the client; the consumer is assigned, never joins nor commits.
                "group.id": "loanwatch-backtest",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "allow.auto.create.topics": False,
            }
        )

    def _resolve(self) -> tuple[PartitionSpan, ...]:
        from confluent_kafka import TopicPartition

        topic, wanted = self.range.topic, self.range
        consumer = self._consumer()
        try:
            found = consumer.list_topics(topic, timeout=self.timeout_s).topics.get(topic)
            if found is None or found.error is not None or not found.partitions:
                raise BacktestError(f"history {wanted.text}: Kafka has no topic {topic!r}")
            partitions = sorted(found.partitions)
            marks = {
                p: consumer.get_watermark_offsets(
                    TopicPartition(topic, p), timeout=self.timeout_s, cached=False
                )
                for p in partitions
            }
            starts = self._offsets(consumer, partitions, wanted.start)
            ends = self._offsets(consumer, partitions, wanted.end)
        except BacktestError:
            raise
        except Exception as exc:  # KafkaException: the broker's own words
            raise BacktestError(f"history {wanted.text}: cannot read its offsets: {exc}") from exc
        finally:
            consumer.close()
        spans = []
        for p in partitions:
            low, high = marks[p]
            start = _clamp(starts[p], low, high, low)
            spans.append(PartitionSpan(p, start, _clamp(ends[p], start, high, high)))
        return tuple(spans)

    def _offsets(self, consumer: Any, partitions: list[int], bound: Bound) -> dict[int, int | None]:
        """Each partition's offset for a bound: the offset itself, or the first at a time."""
        if not isinstance(bound, datetime):
            return dict.fromkeys(partitions, bound)
        from confluent_kafka import TopicPartition

        millis = int(bound.timestamp() * 1000)
        asked = [TopicPartition(self.range.topic, p, millis) for p in partitions]
        found = consumer.offsets_for_times(asked, timeout=self.timeout_s)
        # A negative offset: no message at or after that time, so the partition's end.
        return {tp.partition: tp.offset if tp.offset >= 0 else _PAST_THE_END for tp in found}

    def _read(self, span: PartitionSpan) -> Generator[Located, None, None]:
        """One partition's events from ``span.start`` until ``span.end`` (or its end)."""
        from confluent_kafka import KafkaError, TopicPartition

        topic = self.range.topic
        consumer = self._consumer()
        try:
            consumer.assign([TopicPartition(topic, span.partition, span.start)])
            next_offset, quiet_since = span.start, time.monotonic()
            while next_offset < span.end:
                batch = consumer.consume(_BATCH, 0.5)
                if not batch and time.monotonic() - quiet_since > self.timeout_s:
                    raise BacktestError(
                        f"history {self.range.text}: partition {span.partition} sent nothing "
                        f"for {self.timeout_s:g}s at offset {next_offset} (reading to {span.end})"
                    )
                for message in batch:
                    quiet_since = time.monotonic()
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            next_offset = span.end  # nothing after: transaction markers only
                            break
                        if error.retriable():
                            continue
                        raise BacktestError(
                            f"history {self.range.text}: partition {span.partition}: {error.str()}"
                        )
                    offset = message.offset()
                    if offset >= span.end:
                        next_offset = span.end
                        break
                    next_offset = offset + 1
                    self.position += 1
                    event = self._decode(span.partition, offset, message.key(), message.value())
                    if event is not None:
                        yield event, span.partition, offset
        finally:
            consumer.close()

    def _decode(
        self, partition: int, offset: int, key: bytes | None, value: bytes | None
    ) -> Event | None:
        if value is None:
            self.bad_messages.append(
                BadMessage(self.range.topic, partition, offset, "empty message (tombstone)")
            )
            return None
        try:
            event = decode_event(value)
            check_key(event, key)
        except EventDecodeError as exc:
            self.bad_messages.append(BadMessage(self.range.topic, partition, offset, str(exc)))
            return None
        return event
