"""Warnings, transitions and model metrics from Kafka into Redis for lookup, committed after.

The writer is its own consumer group (``<app_id>-redis``), outside the risk agents'
path: Redis being down delays lookups, never judging. It mirrors the ClickHouse
writer's shape: one batch is at most ``max_rows`` messages or ``max_wait_s`` of
polling; the batch goes to Redis in one pipeline; only when the pipeline succeeded
are the batch's offsets committed, synchronously.

Each warning is applied by one Lua script (atomic per warning), so a redelivered
warning changes nothing: the script first ``SADD``s ``warning_id:status`` to the
loan's ``seen`` set and returns at once when it was already there. That guard is
what makes the non-idempotent commands (LPUSH to ``recent``, XADD to the stream)
safe under at-least-once delivery. Key layout: docs/redis.md and `sinks.redis.keys`.

Bucket and class transitions (``risk.transitions``) go through the same batches
and pipeline, each applied by its own script with the same guard: a loan that
rolls to M2, or is downgraded, on a day no rule fires shows it on its card and
in its borrower's roll-up. Both scripts take the card's state from the newest
record by event time, so neither topic's lag nor a replay's interleaving can put
an older state over a newer one (`sinks.redis.scripts`).

Redis down (connection refused, timeout, loading): the batch is kept and the
pipeline retried with capped exponential backoff; the sink is logged as degraded
once, and as recovered once, rather than crashing or flooding the log. A message
that is not a valid warning (or transition, or metrics record) is logged and
skipped (the ClickHouse writer keeps the dead letters); it is committed with its
batch so it cannot wedge the group.

The model metrics topic goes through the same batches and pipeline: each record
overwrites its model and partition's field in one hash
(`sinks.redis.model_metrics`), so the view always holds each hub's latest figures.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, Unpack

import orjson

from config import Settings
from sinks.errors import WriterStopped
from sinks.metrics import SinkMetrics
from sinks.redis.keys import (
    RECENT_LIMIT,
    SEVERITY_WEIGHT,
    STREAM_MAXLEN,
    TERMINAL_RULES,
    RedisKeys,
)
from sinks.redis.messages import json_object
from sinks.redis.model_metrics import BadMetrics, ParsedMetrics, parse_model_metrics
from sinks.redis.scripts import APPLY_TRANSITION_LUA, APPLY_WARNING_LUA
from sinks.redis.transitions import BadTransition, DatedState, ParsedTransition, parse_transition
from sinks.source import BatchWriter, SourceMessage, WriterOptions

__all__ = [
    "BadWarning",
    "DrainResult",
    "ParsedWarning",
    "RedisWriter",
    "parse_warning",
    "run",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class BadWarning(ValueError):
    """A message that is not a docs/warnings.md warning; skipped, never retried."""


@dataclass(frozen=True, slots=True)
class ParsedWarning(DatedState):
    """The fields the script needs, validated in Python so Redis never sees bad input."""

    warning_id: str
    status: str
    severity: str
    owner_team: str
    rule_id: str
    pack_digest: str
    score: float | None


def parse_warning(value: bytes | None) -> ParsedWarning:
    """Decode and check one ``risk.warnings`` message; raise `BadWarning` with the reason."""
    body = json_object(value, BadWarning)
    try:
        status = body["status"]
        severity = body["severity"]
        if status not in ("open", "resolved"):
            raise BadWarning(f"unknown status {status!r}")
        if severity not in SEVERITY_WEIGHT:
            raise BadWarning(f"unknown severity {severity!r}")
        for name in ("warning_id", "loan_id", "rule_id", "owner_team", "event_time"):
            if not isinstance(body[name], str) or not body[name]:
                raise BadWarning(f"{name} must be a non-empty string")
        # Empty for a warning about a model rather than a loan (docs/warnings.md).
        for name in ("borrower_id", "bucket", "klass"):
            if not isinstance(body[name], str):
                raise BadWarning(f"{name} must be a string")
        dpd = body["dpd"]
        if not isinstance(dpd, int) or isinstance(dpd, bool):
            raise BadWarning("dpd must be an integer")
        score = body.get("score")
        if score is not None and (not isinstance(score, int | float) or isinstance(score, bool)):
            raise BadWarning("score must be a number or null")
        when = datetime.fromisoformat(body["event_time"])
    except KeyError as exc:
        raise BadWarning(f"missing field {exc.args[0]!r}") from None
    except ValueError as exc:
        if isinstance(exc, BadWarning):
            raise
        raise BadWarning(f"bad event_time: {exc}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return ParsedWarning(
        loan_id=body["loan_id"],
        warning_id=body["warning_id"],
        status=status,
        # Compact, key-sorted: the same warning always stores the same bytes.
        body=orjson.dumps(body, option=orjson.OPT_SORT_KEYS),
        event_ms=int(when.timestamp() * 1000),
        event_time=when.astimezone(UTC).isoformat(),
        dpd=dpd,
        bucket=body["bucket"],
        klass=body["klass"],
        produced_at=str(body.get("produced_at") or ""),
        severity=severity,
        owner_team=body["owner_team"],
        borrower_id=body["borrower_id"],
        rule_id=body["rule_id"],
        pack_digest=str(body.get("pack_digest") or ""),
        score=None if score is None else float(score),
    )


@dataclass
class _Batch:
    """One batch's records, checked and split by the topic they came from."""

    warnings: list[ParsedWarning] = field(default_factory=list)
    transitions: list[ParsedTransition] = field(default_factory=list)
    metrics: list[ParsedMetrics] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.warnings or self.transitions or self.metrics)


@dataclass
class DrainResult:
    """What one `RedisWriter.drain_once` did."""

    consumed: int = 0
    applied: int = 0  # warnings and transitions that changed Redis (not already seen)
    transitions: int = 0  # transitions in the batch, applied or already seen
    metrics: int = 0  # model metrics records written
    skipped: int = 0  # malformed messages, logged and committed
    committed: bool = False
    retries: int = 0
    rebuilt: int = 0  # records replayed because Redis had lost the view (0: no rebuild)
    errors: list[str] = field(default_factory=list)


class RedisWriter(BatchWriter):
    """One consumer and one Redis client; call `drain_once` in a loop, or `run`.

    ``topics`` are warnings topics (default: the settings' warnings topic),
    ``transitions_topics`` bucket/class transitions topics and ``metrics_topics``
    model metrics topics (each defaults to the settings' one when ``topics`` is
    left to its default too, else to none, so a writer given its own warnings
    topic reads only that).
    ``client`` and ``consumer`` may be given for tests; otherwise they are built
    from ``settings`` (ACL user, password and TLS via `RedisSettings.client_kwargs`).
    ``prefix`` overrides ``settings.redis.key_prefix`` (tests use their own), and
    ``closed_ttl_days`` overrides ``settings.redis.closed_ttl_days``. Batch limits,
    backoff, stop event and metrics: `sinks.source.WriterOptions`.
    """

    sink = "redis"

    def __init__(
        self,
        settings: Settings,
        *,
        topics: Sequence[str] | None = None,
        transitions_topics: Sequence[str] | None = None,
        metrics_topics: Sequence[str] | None = None,
        group_id: str | None = None,
        prefix: str | None = None,
        closed_ttl_days: int | None = None,
        terminal_rules: frozenset[str] = TERMINAL_RULES,
        client: Any | None = None,
        **options: Unpack[WriterOptions],
    ) -> None:
        if transitions_topics is None:
            transitions_topics = [settings.topics.transitions] if topics is None else []
        if metrics_topics is None:
            metrics_topics = [settings.topics.model_metrics] if topics is None else []
        self.transitions_topics = frozenset(transitions_topics)
        self.metrics_topics = frozenset(metrics_topics)
        warnings = list(topics if topics is not None else [settings.topics.warnings])
        # Every topic read, for the consumer and for a rebuild's replay alike.
        others = (self.transitions_topics | self.metrics_topics) - set(warnings)
        self.topics = warnings + sorted(others)
        super().__init__(settings, self.topics, group_id or f"{settings.app_id}-redis", **options)
        self.keys = RedisKeys(prefix if prefix is not None else settings.redis.key_prefix)
        days = settings.redis.closed_ttl_days if closed_ttl_days is None else closed_ttl_days
        self.ttl_s = int(days) * 86_400
        self.terminal_rules = terminal_rules
        if client is None:
            import redis

            client = redis.Redis.from_url(settings.redis.url, **settings.redis.client_kwargs())
        self.client = client
        self._script = client.register_script(APPLY_WARNING_LUA)
        self._transition_script = client.register_script(APPLY_TRANSITION_LUA)
        self._view_expected: bool | None = None  # known once the view is first checked

    # -- the loop ---------------------------------------------------------------------

    def drain_once(self) -> DrainResult:
        """Poll one batch, apply it to Redis in one pipeline, then commit its offsets.

        Blocks, retrying, while Redis is unavailable; returns uncommitted if the stop
        event is set meanwhile (the group redelivers, and redelivery is harmless).
        When the pipeline finds the view's marker gone although this group had
        written before (Redis restarted without persistence, or was flushed), the
        view is rebuilt from the topic before the batch is committed.
        """
        started = time.monotonic()
        result = DrainResult()
        messages = self._poll_batch()
        result.consumed = len(messages)
        if not messages:
            return result
        batch = self._parse(messages, result)
        if batch:
            outcome = self._apply_with_retry(result, batch)
            if outcome is None:
                log.warning("stopped before Redis took the batch; %d offsets left", len(messages))
                return result
            result.applied, intact = outcome
            result.transitions = len(batch.transitions)
            result.metrics = len(batch.metrics)
            if not intact and not self._restore_view(result):
                return result
        elif not self._view_expected and not self._check_view(result):
            return result  # stopped
        result.committed = self._commit(messages, started)
        return result

    def _check_view(self, result: DrainResult) -> bool:
        """A batch with nothing to apply: still make sure the view's marker is there.

        Otherwise a first batch of nothing but bad messages would be committed with
        no marker set, and the next batch would take the missing marker for a lost
        view and rebuild it. False if stopped.
        """
        present = self._with_retry(result, lambda: self.client.exists(self.keys.view))
        if present is None:
            return False
        return bool(present) or self._restore_view(result)

    def close_store(self) -> None:
        self.client.close()

    def _parse(self, messages: Sequence[SourceMessage], result: DrainResult) -> _Batch:
        batch = _Batch()
        for message in messages:
            try:
                if message.topic in self.transitions_topics:
                    batch.transitions.append(parse_transition(message.value))
                elif message.topic in self.metrics_topics:
                    batch.metrics.append(parse_model_metrics(message.value))
                else:
                    batch.warnings.append(parse_warning(message.value))
            except (BadWarning, BadTransition, BadMetrics) as exc:
                result.skipped += 1
                result.errors.append(str(exc))
                log.warning(
                    "skipping %s[%d]@%d: %s", message.topic, message.partition, message.offset, exc
                )
        return batch

    # -- Redis --------------------------------------------------------------------------

    def apply(
        self,
        warnings: Sequence[ParsedWarning],
        *,
        publish: bool = True,
        metrics: Sequence[ParsedMetrics] = (),
        transitions: Sequence[ParsedTransition] = (),
    ) -> tuple[int, bool]:
        """One pipeline for the batch: (records that changed Redis, view marker present).

        ``publish=False`` (a rebuild) leaves the stream alone: its consumers have
        seen those warnings already. ``transitions`` are applied after the
        warnings; their order does not matter (each script keeps the newest
        state by event time). ``metrics`` overwrite their fields of the
        model metrics hash, in order, so the batch's last record per field stays.
        """
        pipe = self.client.pipeline(transaction=False)
        k = self.keys
        pipe.exists(k.view)
        flag = "1" if publish else "0"
        for w in warnings:
            self._script(
                keys=[
                    *k.loan(w.loan_id),
                    k.team(w.owner_team),
                    k.top,
                    k.stream,
                    k.borrower(w.borrower_id),
                ],
                args=[
                    w.loan_id,
                    w.warning_id,
                    w.status,
                    w.body,
                    w.event_ms,
                    w.event_time,
                    w.dpd,
                    w.bucket,
                    w.klass,
                    w.produced_at,
                    RECENT_LIMIT,
                    STREAM_MAXLEN,
                    w.severity,
                    w.owner_team,
                    w.borrower_id,
                    w.rule_id,
                    w.pack_digest,
                    "" if w.score is None else repr(w.score),
                    self.ttl_s,
                    "1" if w.rule_id in self.terminal_rules else "0",
                    flag,
                    k.team_prefix,
                ],
                client=pipe,
            )
        for t in transitions:
            self._transition_script(
                keys=[*k.loan(t.loan_id), k.top, k.borrower(t.borrower_id)],
                args=[
                    t.loan_id,
                    t.transition_id,
                    t.body,
                    t.event_ms,
                    t.event_time,
                    t.dpd,
                    t.bucket,
                    t.klass,
                    t.produced_at,
                    t.borrower_id,
                    self.ttl_s,
                ],
                client=pipe,
            )
        if metrics:
            pipe.hset(k.model_metrics, mapping={m.field: m.body for m in metrics})
        present, *changed = pipe.execute()
        # The scripts' replies; the HSET's (new fields) counts no record.
        scripts = changed[: len(warnings) + len(transitions)]
        return sum(int(r) for r in scripts), bool(present)

    def _apply_with_retry(
        self, result: DrainResult, batch: _Batch, *, publish: bool = True
    ) -> tuple[int, bool] | None:
        return self._with_retry(
            result,
            lambda: self.apply(
                batch.warnings,
                publish=publish,
                metrics=batch.metrics,
                transitions=batch.transitions,
            ),
        )

    def _with_retry(self, result: DrainResult, action: Callable[[], _T]) -> _T | None:
        """``action()`` retried while Redis says "not now"; None if stopped meanwhile."""
        from redis.exceptions import ConnectionError, NoScriptError, ReadOnlyError, TimeoutError

        # Unreachable, loading, a replica mid-failover, or a restart that dropped the
        # script cache (the next pipeline loads it again).
        transient = (ConnectionError, TimeoutError, NoScriptError, ReadOnlyError, OSError)
        try:
            return self._retry(action, transient, result)
        except WriterStopped:
            return None

    # -- rebuilding the view ------------------------------------------------------------

    def _restore_view(self, result: DrainResult) -> bool:
        """The marker was missing: rebuild if the view should have been there; False if stopped."""
        if self._view_expected is None:
            self._view_expected = _group_has_commits(self.consumer, self.topics)
        if self._view_expected:
            # This batch just went into a view that lost its past: start it again from
            # nothing so every list is rebuilt in topic order. The stream is kept (this
            # batch's new warnings were published to it; the replay publishes nothing).
            log.warning("Redis lost the lookup view (restart or flush); rebuilding from the topic")
            if self._with_retry(result, self.wipe) is None:
                return False
            rebuilt = self.rebuild(result)
            if rebuilt is None:
                return False
            result.rebuilt = rebuilt
        if self._with_retry(result, lambda: self.client.set(self.keys.view, self.group_id)) is None:
            return False
        self._view_expected = True
        return True

    def rebuild(self, result: DrainResult | None = None) -> int | None:
        """Replay the topics from the beginning up to what this group has already read.

        "Already read" is the consumer's position on the partitions it holds and the
        group's committed offset on the others: everything past that reaches Redis
        the ordinary way, so nothing is applied twice and the stream (not written by
        a replay) misses nothing. Returns the records replayed, None if stopped.
        """
        result = result or DrainResult()
        ends = _read_so_far(self.consumer, self.topics)
        replayed = 0
        for batch in _replay(self.settings, f"{self.group_id}-rebuild", ends, self.max_rows):
            parsed = self._parse(batch, result)
            if self.stop_event.is_set():
                return None
            if parsed and self._apply_with_retry(result, parsed, publish=False) is None:
                return None
            replayed += len(batch)
        self.metrics.rebuilt(self.sink, replayed)
        log.warning("rebuilt the Redis view from %d records", replayed)
        return replayed

    def wipe(self) -> int:
        """Delete the view's keys under the prefix (not the stream); returns how many."""
        deleted = 0
        batch: list[bytes] = []
        stream = self.keys.stream.encode()
        for key in self.client.scan_iter(match=self.keys.prefix + "*", count=1_000):
            if key != stream:
                batch.append(key)
            if len(batch) >= 1_000:
                deleted += self.client.unlink(*batch)
                batch.clear()
        if batch:
            deleted += self.client.unlink(*batch)
        return deleted


def _partitions(consumer: Any, topics: Sequence[str]) -> list[tuple[str, int]]:
    metadata = consumer.list_topics(timeout=10)
    return sorted(
        (topic, partition)
        for topic in topics
        if topic in metadata.topics
        for partition in metadata.topics[topic].partitions
    )


def _group_has_commits(consumer: Any, topics: Sequence[str]) -> bool:
    from confluent_kafka import TopicPartition

    wanted = [TopicPartition(t, p) for t, p in _partitions(consumer, topics)]
    return any(tp.offset >= 0 for tp in consumer.committed(wanted, timeout=10))


def _read_so_far(consumer: Any, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    """Per partition, the next offset this group would read: position, else committed."""
    from confluent_kafka import TopicPartition

    wanted = [TopicPartition(t, p) for t, p in _partitions(consumer, topics)]
    ends = {(tp.topic, tp.partition): tp.offset for tp in consumer.committed(wanted, timeout=10)}
    for tp in consumer.position(consumer.assignment()):
        if tp.offset >= 0:
            ends[(tp.topic, tp.partition)] = tp.offset
    return {key: end for key, end in ends.items() if end > 0}


def _replay(
    settings: Settings, group_id: str, ends: dict[tuple[str, int], int], max_rows: int
) -> Iterator[list[SourceMessage]]:
    """Batches of every message before ``ends``, read from the beginning without a group.

    Partitions are assigned, not subscribed, so the replay joins no group and
    commits nothing; ``group_id`` only names the client.
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            **settings.kafka.confluent_config(),
            "group.id": group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
        }
    )
    try:
        left: dict[tuple[str, int], int] = {}
        for key, last in ends.items():
            low, _high = consumer.get_watermark_offsets(TopicPartition(*key), 10)
            if last > low:
                left[key] = last
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in left])
        while left:
            batch: list[SourceMessage] = []
            for msg in consumer.consume(max_rows, timeout=1.0):
                topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
                if topic is None or partition is None or offset is None:
                    continue
                end = left.get((topic, partition))
                if end is None:
                    continue
                if msg.error() is not None:  # the log's end (it shrank, or end was past it)
                    del left[(topic, partition)]
                    continue
                if offset < end:
                    batch.append(SourceMessage(topic, partition, offset, msg.value()))
                if offset + 1 >= end:
                    del left[(topic, partition)]
            if batch:
                yield batch
    finally:
        consumer.close()


def run(
    settings: Settings,
    stop_event: threading.Event,
    *,
    max_rows: int = 2_000,
    max_wait_s: float = 0.2,
    topics: Sequence[str] | None = None,
    rebuild: bool = False,
    metrics: SinkMetrics | None = None,
) -> None:
    """`loanwatch sink redis`: keep Redis's lookup view current until stopped.

    ``rebuild=True`` (``--rebuild``) first deletes the view under the key prefix and
    replays the warnings, transitions and model metrics topics into it, then carries
    on as usual.
    """
    writer = RedisWriter(
        settings,
        topics=topics,
        max_rows=max_rows,
        max_wait_s=max_wait_s,
        stop_event=stop_event,
        metrics=metrics,
    )
    if rebuild:
        try:
            log.warning("deleted %d keys of the Redis view; replaying", writer.wipe())
            if writer.rebuild() is None:
                writer.close()
                return
            writer.client.set(writer.keys.view, writer.group_id)
        except BaseException:
            writer.close()
            raise
    writer.run()
