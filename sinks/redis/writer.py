"""Warnings from Kafka into Redis for instant lookup, offsets committed only after Redis has them.

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
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from config import Settings
from sinks.redis.keys import RECENT_LIMIT, SEVERITY_WEIGHT, STREAM_MAXLEN, RedisKeys
from sinks.source import SourceMessage, batch_consumer, commit_batch, poll_batch

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

_WEIGHTS_LUA = ", ".join(f"[{name!r}] = {weight}" for name, weight in SEVERITY_WEIGHT.items())

APPLY_WARNING_LUA = (
    """
-- KEYS: card, open, recent, seen, team, top, stream
-- ARGV: loan_id, warning_id, status, body, event_ms, event_time, dpd, bucket, klass,
--       produced_at, recent_limit, stream_maxlen, severity, owner_team
local card, open, recent, seen, team, top, stream =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local loan, wid, status, body = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local event_ms = tonumber(ARGV[5])
local weights = {"""
    + _WEIGHTS_LUA
    + """}

-- A record already applied (redelivery) changes nothing at all.
if redis.call('SADD', seen, wid .. ':' .. status) == 0 then
  return 0
end

if status == 'open' then
  -- An open redelivered after its resolution must not reopen it.
  if redis.call('SISMEMBER', seen, wid .. ':resolved') == 0 then
    redis.call('HSET', open, wid, body)
    redis.call('SADD', team, wid)
  end
  redis.call('XADD', stream, 'MAXLEN', '~', ARGV[12], '*',
    'warning_id', wid, 'loan_id', loan, 'severity', ARGV[13], 'owner_team', ARGV[14],
    'body', body)
else
  redis.call('HDEL', open, wid)
  redis.call('SREM', team, wid)
end
redis.call('LPUSH', recent, body)
redis.call('LTRIM', recent, 0, tonumber(ARGV[11]) - 1)

-- The card's state comes from the newest warning by event time (ties: larger id).
local cur = redis.call('HMGET', card, 'event_ms', 'last_warning_id')
local newer = (not cur[1]) or event_ms > tonumber(cur[1])
  or (event_ms == tonumber(cur[1]) and wid >= cur[2])
if newer then
  redis.call('HSET', card, 'dpd', ARGV[7], 'bucket', ARGV[8], 'klass', ARGV[9],
    'last_warning_at', ARGV[6], 'event_ms', ARGV[5], 'last_warning_id', wid)
end
local n = redis.call('HLEN', open)
redis.call('HSET', card, 'loan_id', loan, 'open_warnings', n, 'updated_at', ARGV[10])

if n == 0 then
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


def parse_warning(value: bytes | None) -> ParsedWarning:
    """Decode and check one ``risk.warnings`` message; raise `BadWarning` with the reason."""
    if not value:
        raise BadWarning("empty message")
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadWarning(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadWarning("not a JSON object")
    try:
        status = body["status"]
        severity = body["severity"]
        if status not in ("open", "resolved"):
            raise BadWarning(f"unknown status {status!r}")
        if severity not in SEVERITY_WEIGHT:
            raise BadWarning(f"unknown severity {severity!r}")
        for name in ("warning_id", "loan_id", "owner_team", "bucket", "klass", "event_time"):
            if not isinstance(body[name], str) or not body[name]:
                raise BadWarning(f"{name} must be a non-empty string")
        dpd = body["dpd"]
        if not isinstance(dpd, int) or isinstance(dpd, bool):
            raise BadWarning("dpd must be an integer")
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
    )


@dataclass
class DrainResult:
    """What one `RedisWriter.drain_once` did."""

    consumed: int = 0
    applied: int = 0  # warnings that changed Redis (not already seen)
    skipped: int = 0  # malformed messages, logged and committed
    committed: bool = False
    retries: int = 0
    errors: list[str] = field(default_factory=list)


_Message = SourceMessage


class RedisWriter:
    """One consumer and one Redis client; call `drain_once` in a loop, or `run`.

    ``client`` and ``consumer`` may be given for tests; otherwise they are built
    from ``settings`` (ACL user, password and TLS via `RedisSettings.client_kwargs`).
    ``prefix`` overrides ``settings.redis.key_prefix`` (tests use their own).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        topics: Sequence[str] | None = None,
        group_id: str | None = None,
        prefix: str | None = None,
        max_rows: int = 2_000,
        max_wait_s: float = 0.2,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 10.0,
        stop_event: threading.Event | None = None,
        client: Any | None = None,
        consumer: Any | None = None,
    ) -> None:
        if max_rows < 1 or max_wait_s <= 0 or not 0 < backoff_initial_s <= backoff_max_s:
            raise ValueError("max_rows >= 1, max_wait_s > 0, 0 < backoff_initial <= max")
        self.topics = list(topics if topics is not None else [settings.topics.warnings])
        self.keys = RedisKeys(prefix if prefix is not None else settings.redis.key_prefix)
        self.max_rows = max_rows
        self.max_wait_s = max_wait_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.stop_event = stop_event or threading.Event()
        self.degraded = False
        if client is None:
            import redis

            client = redis.Redis.from_url(settings.redis.url, **settings.redis.client_kwargs())
        self.client = client
        self._script = client.register_script(APPLY_WARNING_LUA)
        if consumer is None:
            consumer = batch_consumer(settings, group_id or f"{settings.app_id}-redis", self.topics)
        self.consumer = consumer

    # -- the loop ---------------------------------------------------------------------

    def drain_once(self) -> DrainResult:
        """Poll one batch, apply it to Redis in one pipeline, then commit its offsets.

        Blocks, retrying, while Redis is unavailable; returns uncommitted if the stop
        event is set meanwhile (the group redelivers, and redelivery is harmless).
        """
        result = DrainResult()
        messages = self._poll_batch()
        result.consumed = len(messages)
        if not messages:
            return result
        warnings: list[ParsedWarning] = []
        for message in messages:
            try:
                warnings.append(parse_warning(message.value))
            except BadWarning as exc:
                result.skipped += 1
                result.errors.append(str(exc))
                log.warning(
                    "skipping %s[%d]@%d: %s", message.topic, message.partition, message.offset, exc
                )
        if warnings:
            applied = self._apply_with_retry(result, warnings)
            if applied is None:
                log.warning("stopped before Redis took the batch; %d offsets left", len(messages))
                return result
            result.applied = applied
        result.committed = self._commit(messages)
        return result

    def run(self) -> None:
        """Drain until the stop event is set, then close the consumer (leaving the group)."""
        try:
            while not self.stop_event.is_set():
                self.drain_once()
        finally:
            self.close()

    def close(self) -> None:
        self.consumer.close()
        self.client.close()

    # -- Redis --------------------------------------------------------------------------

    def apply(self, warnings: Sequence[ParsedWarning]) -> int:
        """One pipeline for the batch; returns how many warnings changed Redis."""
        pipe = self.client.pipeline(transaction=False)
        k = self.keys
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
                ],
                client=pipe,
            )
        return sum(int(r) for r in pipe.execute())

    def _apply_with_retry(
        self, result: DrainResult, warnings: Sequence[ParsedWarning]
    ) -> int | None:
        from redis.exceptions import ConnectionError, NoScriptError, ReadOnlyError, TimeoutError

        # "Not now" errors: unreachable, loading, a replica mid-failover, or a restart
        # that dropped the script cache (the next pipeline loads it again).
        transient = (ConnectionError, TimeoutError, NoScriptError, ReadOnlyError, OSError)

        delay = self.backoff_initial_s
        while True:
            try:
                applied = self.apply(warnings)
            except transient as exc:
                result.retries += 1
                if not self.degraded:
                    self.degraded = True
                    log.warning("Redis sink degraded (%s); keeping the batch and retrying", exc)
                else:
                    log.debug("Redis still unavailable (%s); retrying in %.1fs", exc, delay)
                if self.stop_event.wait(delay):
                    return None
                delay = min(delay * 2, self.backoff_max_s)
                continue
            if self.degraded:
                self.degraded = False
                log.warning("Redis sink recovered after %d retries", result.retries)
            return applied

    # -- Kafka --------------------------------------------------------------------------

    def _poll_batch(self) -> list[_Message]:
        return poll_batch(self.consumer, self.max_rows, self.max_wait_s, self.stop_event)

    def _commit(self, messages: Sequence[_Message]) -> bool:
        return commit_batch(self.consumer, messages)


def run(
    settings: Settings,
    stop_event: threading.Event,
    *,
    max_rows: int = 2_000,
    max_wait_s: float = 0.2,
    topics: Sequence[str] | None = None,
) -> None:
    """`loanwatch sink redis` (to be wired): keep Redis's lookup view current until stopped."""
    RedisWriter(
        settings,
        topics=topics,
        max_rows=max_rows,
        max_wait_s=max_wait_s,
        stop_event=stop_event,
    ).run()
