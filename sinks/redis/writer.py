"""Warnings (and model metrics) from Kafka into Redis for instant lookup, committed after Redis.

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

Redis down (connection refused, timeout, loading): the batch is kept and the
pipeline retried with capped exponential backoff; the sink is logged as degraded
once, and as recovered once, rather than crashing or flooding the log. A message
that is not a valid warning is logged and skipped (the ClickHouse writer keeps the
dead letters); it is committed with its batch so it cannot wedge the group.

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
    KLASS_RANK,
    RECENT_LIMIT,
    SEVERITY_WEIGHT,
    STREAM_MAXLEN,
    TERMINAL_RULES,
    RedisKeys,
)
from sinks.redis.model_metrics import (
    BadMetrics,
    ParsedMetrics,
    json_object,
    parse_model_metrics,
)
from sinks.source import BatchWriter, SourceMessage, WriterOptions

__all__ = [
    "APPLY_WARNING_LUA",
    "BadWarning",
    "DrainResult",
    "ParsedWarning",
    "RedisWriter",
    "parse_warning",
    "run",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

_WEIGHTS_LUA = ", ".join(f"[{name!r}] = {weight}" for name, weight in SEVERITY_WEIGHT.items())
_KLASS_RANK_LUA = ", ".join(f"[{name!r}] = {rank}" for name, rank in KLASS_RANK.items())

APPLY_WARNING_LUA = (
    """
-- KEYS: card, open, recent, seen, team, top, stream, borrower
-- ARGV: 1 loan_id, 2 warning_id, 3 status, 4 body, 5 event_ms, 6 event_time, 7 dpd,
--       8 bucket, 9 klass, 10 produced_at, 11 recent_limit, 12 stream_maxlen,
--       13 severity, 14 owner_team, 15 borrower_id, 16 rule_id, 17 pack_digest,
--       18 score ('' when none), 19 ttl seconds (0: keep forever), 20 terminal (1/0),
--       21 publish to the stream (1/0), 22 team key prefix
local card, open, recent, seen, team, top, stream, borrower =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local loan, wid, status, body = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local event_ms = tonumber(ARGV[5])
local ttl = tonumber(ARGV[19])
local weights = {"""
    + _WEIGHTS_LUA
    + """}
local klass_rank = {"""
    + _KLASS_RANK_LUA
    + """}

-- A record already applied (redelivery) changes nothing at all.
if redis.call('SADD', seen, wid .. ':' .. status) == 0 then
  return 0
end

if status == 'open' then
  -- An open redelivered after its resolution must not reopen it, nor may a warning
  -- reopen a loan whose monitoring ended (written off).
  if redis.call('SISMEMBER', seen, wid .. ':resolved') == 0
      and redis.call('HEXISTS', card, 'closed_by') == 0 then
    redis.call('HSET', open, wid, body)
    redis.call('SADD', team, wid)
  end
  if ARGV[21] == '1' then
    redis.call('XADD', stream, 'MAXLEN', '~', ARGV[12], '*',
      'warning_id', wid, 'loan_id', loan, 'severity', ARGV[13], 'owner_team', ARGV[14],
      'body', body)
  end
else
  redis.call('HDEL', open, wid)
  redis.call('SREM', team, wid)
end
redis.call('LPUSH', recent, body)
redis.call('LTRIM', recent, 0, tonumber(ARGV[11]) - 1)

-- The card's state comes from the newest warning by event time (ties: larger id).
local cur = redis.call('HMGET', card, 'event_ms', 'last_warning_id', 'score_ms')
local newer = (not cur[1]) or event_ms > tonumber(cur[1])
  or (event_ms == tonumber(cur[1]) and wid >= cur[2])
if newer then
  redis.call('HSET', card, 'dpd', ARGV[7], 'bucket', ARGV[8], 'klass', ARGV[9],
    'last_warning_at', ARGV[6], 'event_ms', ARGV[5], 'last_warning_id', wid,
    'pack_digest', ARGV[17])
end
-- The latest model score, by event time, from whichever rule read one.
if ARGV[18] ~= '' and ((not cur[3]) or event_ms >= tonumber(cur[3])) then
  redis.call('HSET', card, 'score', ARGV[18], 'score_rule', ARGV[16],
    'score_at', ARGV[6], 'score_ms', ARGV[5])
end

-- A terminal warning (written off) closes the loan: it leaves top and the team sets.
if ARGV[20] == '1' and status == 'open' then
  redis.call('HSET', card, 'closed_by', ARGV[16], 'closed_at', ARGV[6])
  for _, value in ipairs(redis.call('HVALS', open)) do
    local w = cjson.decode(value)
    redis.call('SREM', ARGV[22] .. w['owner_team'], w['warning_id'])
  end
  redis.call('DEL', open)
end
local closed = redis.call('HEXISTS', card, 'closed_by') == 1
local n = redis.call('HLEN', open)
redis.call('HSET', card, 'loan_id', loan, 'borrower_id', ARGV[15], 'open_warnings', n,
  'updated_at', ARGV[10])

if n == 0 or closed then
  redis.call('ZREM', top, loan)
else
  local best = 0
  for _, value in ipairs(redis.call('HVALS', open)) do
    local w = weights[cjson.decode(value)['severity']] or 0
    if w > best then best = w end
  end
  local dpd = tonumber(redis.call('HGET', card, 'dpd')) or 0
  if dpd < 0 then dpd = 0 elseif dpd > 999 then dpd = 999 end
  redis.call('ZADD', top, best * 1000 + dpd, loan)
end

-- A quiet (nothing open) or closed loan's keys expire; an open warning keeps them.
for _, key in ipairs({card, open, recent, seen}) do
  if ttl > 0 and (n == 0 or closed) then
    redis.call('EXPIRE', key, ttl)
  else
    redis.call('PERSIST', key)
  end
end

-- The borrower's roll-up: this loan's fields, then aggregates over every loan's.
-- A warning about no borrower (a model's drift, docs/warnings.md) has none.
if ARGV[15] ~= '' then
  local state = redis.call('HMGET', card, 'dpd', 'klass')
  redis.call('HSET', borrower, 'dpd:' .. loan, state[1], 'klass:' .. loan, state[2],
    'open:' .. loan, n)
  local fields = redis.call('HGETALL', borrower)
  local loans, max_dpd, worst, open_total = 0, 0, -1, 0
  local worst_name = ''
  for i = 1, #fields, 2 do
    local name, value = fields[i], fields[i + 1]
    if string.sub(name, 1, 4) == 'dpd:' then
      loans = loans + 1
      if tonumber(value) > max_dpd then max_dpd = tonumber(value) end
    elseif string.sub(name, 1, 6) == 'klass:' then
      local rank = klass_rank[value] or -1
      if rank > worst then worst, worst_name = rank, value end
    elseif string.sub(name, 1, 5) == 'open:' then
      open_total = open_total + tonumber(value)
    end
  end
  redis.call('HSET', borrower, 'borrower_id', ARGV[15], 'loans', loans, 'max_dpd', max_dpd,
    'worst_klass', worst_name, 'open_warnings', open_total)
  -- Loans sit on different partitions, so arrival order is not theirs: keep the latest.
  local seen_at = redis.call('HGET', borrower, 'updated_at')
  if (not seen_at) or ARGV[10] > seen_at then
    redis.call('HSET', borrower, 'updated_at', ARGV[10])
  end
  if ttl > 0 and open_total == 0 then
    redis.call('EXPIRE', borrower, ttl)
  else
    redis.call('PERSIST', borrower)
  end
end
return 1
"""
)


class BadWarning(ValueError):
    """A message that is not a docs/warnings.md warning; skipped, never retried."""


@dataclass(frozen=True, slots=True)
class ParsedWarning:
    """The fields the script needs, validated in Python so Redis never sees bad input."""

    loan_id: str
    warning_id: str
    status: str
    body: bytes
    event_ms: int
    event_time: str
    dpd: int
    bucket: str
    klass: str
    produced_at: str
    severity: str
    owner_team: str
    borrower_id: str
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
class DrainResult:
    """What one `RedisWriter.drain_once` did."""

    consumed: int = 0
    applied: int = 0  # warnings that changed Redis (not already seen)
    metrics: int = 0  # model metrics records written
    skipped: int = 0  # malformed messages, logged and committed
    committed: bool = False
    retries: int = 0
    rebuilt: int = 0  # records replayed because Redis had lost the view (0: no rebuild)
    errors: list[str] = field(default_factory=list)


class RedisWriter(BatchWriter):
    """One consumer and one Redis client; call `drain_once` in a loop, or `run`.

    ``topics`` are warnings topics (default: the settings' warnings topic) and
    ``metrics_topics`` model metrics topics (default: the settings' one when
    ``topics`` is left to its default too, else none, so a writer given its own
    warnings topic reads only that).
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
        metrics_topics: Sequence[str] | None = None,
        group_id: str | None = None,
        prefix: str | None = None,
        closed_ttl_days: int | None = None,
        terminal_rules: frozenset[str] = TERMINAL_RULES,
        client: Any | None = None,
        **options: Unpack[WriterOptions],
    ) -> None:
        if metrics_topics is None:
            metrics_topics = [settings.topics.model_metrics] if topics is None else []
        self.metrics_topics = frozenset(metrics_topics)
        warnings = list(topics if topics is not None else [settings.topics.warnings])
        # Every topic read, for the consumer and for a rebuild's replay alike.
        self.topics = warnings + sorted(self.metrics_topics - set(warnings))
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
        warnings, metrics = self._parse(messages, result)
        if warnings or metrics:
            outcome = self._apply_with_retry(result, warnings, metrics)
            if outcome is None:
                log.warning("stopped before Redis took the batch; %d offsets left", len(messages))
                return result
            result.applied, intact = outcome
            result.metrics = len(metrics)
            if not intact and not self._restore_view(result):
                return result
        result.committed = self._commit(messages, started)
        return result

    def close_store(self) -> None:
        self.client.close()

    def _parse(
        self, messages: Sequence[SourceMessage], result: DrainResult
    ) -> tuple[list[ParsedWarning], list[ParsedMetrics]]:
        warnings: list[ParsedWarning] = []
        metrics: list[ParsedMetrics] = []
        for message in messages:
            try:
                if message.topic in self.metrics_topics:
                    metrics.append(parse_model_metrics(message.value))
                else:
                    warnings.append(parse_warning(message.value))
            except (BadWarning, BadMetrics) as exc:
                result.skipped += 1
                result.errors.append(str(exc))
                log.warning(
                    "skipping %s[%d]@%d: %s", message.topic, message.partition, message.offset, exc
                )
        return warnings, metrics

    # -- Redis --------------------------------------------------------------------------

    def apply(
        self,
        warnings: Sequence[ParsedWarning],
        *,
        publish: bool = True,
        metrics: Sequence[ParsedMetrics] = (),
    ) -> tuple[int, bool]:
        """One pipeline for the batch: (warnings that changed Redis, view marker present).

        ``publish=False`` (a rebuild) leaves the stream alone: its consumers have
        seen those warnings already. ``metrics`` overwrite their fields of the
        model metrics hash, in order, so the batch's last record per field stays.
        """
        pipe = self.client.pipeline(transaction=False)
        k = self.keys
        pipe.exists(k.view)
        flag = "1" if publish else "0"
        for w in warnings:
            self._script(
                keys=[
                    k.card(w.loan_id),
                    k.open(w.loan_id),
                    k.recent(w.loan_id),
                    k.seen(w.loan_id),
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
        if metrics:
            pipe.hset(k.model_metrics, mapping={m.field: m.body for m in metrics})
        present, *changed = pipe.execute()
        scripts = changed[: len(warnings)]  # the HSET's reply (new fields) is not a warning
        return sum(int(r) for r in scripts), bool(present)

    def _apply_with_retry(
        self,
        result: DrainResult,
        warnings: Sequence[ParsedWarning],
        metrics: Sequence[ParsedMetrics] = (),
        *,
        publish: bool = True,
    ) -> tuple[int, bool] | None:
        return self._with_retry(
            result, lambda: self.apply(warnings, publish=publish, metrics=metrics)
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
            warnings, metrics = self._parse(batch, result)
            if self.stop_event.is_set():
                return None
            if (warnings or metrics) and self._apply_with_retry(
                result, warnings, metrics, publish=False
            ) is None:
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
    replays the warnings topic into it, then carries on as usual.
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
