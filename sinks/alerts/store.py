"""The alert path's durable state in Redis: alerts, groups, silences, outboxes, ledger, commands.

Everything the engine decided is written in one ``MULTI``/``EXEC`` together with the
notifications and events it caused, before the Kafka offsets are committed; so a
crash anywhere replays into a state that already knows what it did (the engine
deduplicates by warning id) and never decides a notification twice. What was
*delivered* is a separate ledger (``sent``) written right after each channel took a
message, so a notification re-read from the outbox after a crash is not sent again.

Keys (under ``{redis.key_prefix}alerts:``; docs/alerting.md):

=====================  ======  =====================================================
``alert``              hash    warning_id -> alert state JSON (kept after resolution)
``group``              hash    group key -> group state JSON
``silence``            hash    silence id -> silence JSON
``outbox:{receiver}``  list    notifications waiting for delivery, oldest first
``sent``               zset    ``{notification_id}@{channel}`` -> delivery time (s)
``events``             list    alert events waiting for ClickHouse
``commands``           list    ack / resolve / silence / expire requests, oldest first
``reply:{command_id}`` list    the service's answer to one command (expires)
``leader``             string  the active instance's id (a lease with a TTL)
``rate:{receiver}``    zset    send times (s) within the receiver's rate window
=====================  ======  =====================================================
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from sinks.alerts.engine import AlertEngine, AlertState, GroupState
from sinks.alerts.model import AlertEvent, Notification, Silence

__all__ = ["AlertKeys", "AlertStore", "SENT_KEEP_S"]

SENT_KEEP_S = 7 * 86400
"""How long the delivery ledger remembers a notification (far beyond any outage)."""
REPLY_TTL_S = 300


@dataclass(frozen=True, slots=True)
class AlertKeys:
    """Key names under one prefix; pure string building."""

    prefix: str = "lw:alerts:"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}alert"

    @property
    def groups(self) -> str:
        return f"{self.prefix}group"

    @property
    def silences(self) -> str:
        return f"{self.prefix}silence"

    def outbox(self, receiver: str) -> str:
        return f"{self.prefix}outbox:{receiver}"

    @property
    def sent(self) -> str:
        return f"{self.prefix}sent"

    @property
    def events(self) -> str:
        return f"{self.prefix}events"

    @property
    def commands(self) -> str:
        return f"{self.prefix}commands"

    def reply(self, command_id: str) -> str:
        return f"{self.prefix}reply:{command_id}"

    def rate(self, receiver: str) -> str:
        return f"{self.prefix}rate:{receiver}"

    @property
    def leader(self) -> str:
        return f"{self.prefix}leader"


class AlertStore:
    """Reads and writes `AlertKeys` with one Redis client (sync, ``redis-py``)."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.keys = AlertKeys(prefix)

    # -- the engine's state ------------------------------------------------------------------

    def load(self, engine: AlertEngine) -> None:
        k = self.keys
        engine.restore(
            (AlertState.from_dict(orjson.loads(v)) for v in self.client.hvals(k.alerts)),
            (GroupState.from_dict(orjson.loads(v)) for v in self.client.hvals(k.groups)),
            (Silence.from_dict(orjson.loads(v)) for v in self.client.hvals(k.silences)),
        )

    def persist(
        self,
        engine: AlertEngine,
        notifications: Sequence[Notification],
        events: Sequence[AlertEvent],
        *,
        silences: Iterable[Silence] = (),
        commands_done: int = 0,
        replies: Sequence[tuple[str, dict[str, Any]]] = (),
    ) -> None:
        """One transaction: changed state, new notifications and events, handled commands."""
        dirty = engine.take_dirty()
        k = self.keys
        pipe = self.client.pipeline(transaction=True)
        if dirty.alerts:
            pipe.hset(
                k.alerts,
                mapping={a.alert.warning_id: orjson.dumps(a.to_dict()) for a in dirty.alerts},
            )
        if dirty.dropped_alerts:
            pipe.hdel(k.alerts, *dirty.dropped_alerts)
        if dirty.groups:
            pipe.hset(k.groups, mapping={g.key: orjson.dumps(g.to_dict()) for g in dirty.groups})
        if dirty.dropped_groups:
            pipe.hdel(k.groups, *dirty.dropped_groups)
        for silence in silences:
            pipe.hset(k.silences, silence.id, orjson.dumps(silence.to_dict()))
        for notice in notifications:
            pipe.rpush(k.outbox(notice.receiver), notice.to_json())
        if events:
            pipe.rpush(k.events, *(e.to_json() for e in events))
        if commands_done:
            pipe.ltrim(k.commands, commands_done, -1)
        for command_id, answer in replies:
            pipe.rpush(k.reply(command_id), orjson.dumps(answer))
            pipe.expire(k.reply(command_id), REPLY_TTL_S)
        if len(pipe):
            pipe.execute()

    # -- delivery ----------------------------------------------------------------------------

    def receivers_waiting(self, receivers: Iterable[str]) -> dict[str, int]:
        pipe = self.client.pipeline(transaction=False)
        names = list(receivers)
        for name in names:
            pipe.llen(self.keys.outbox(name))
        return {n: int(c) for n, c in zip(names, pipe.execute(), strict=True) if c}

    def peek(self, receiver: str, count: int) -> list[Notification]:
        raw = self.client.lrange(self.keys.outbox(receiver), 0, count - 1)
        return [Notification.from_json(r) for r in raw]

    def delivered(self, entries: Iterable[str]) -> set[str]:
        """Which ``{notification_id}@{channel}`` the ledger has."""
        names = list(entries)
        if not names:
            return set()
        scores = self.client.zmscore(self.keys.sent, names)
        return {n for n, s in zip(names, scores, strict=True) if s is not None}

    def mark_delivered(self, entries: Sequence[str], at_s: float) -> None:
        if entries:
            self.client.zadd(self.keys.sent, dict.fromkeys(entries, at_s))

    def finish(self, receiver: str, count: int, events: Sequence[AlertEvent], at_s: float) -> None:
        """The first ``count`` outbox entries went out on every channel: drop them, log it."""
        pipe = self.client.pipeline(transaction=True)
        pipe.ltrim(self.keys.outbox(receiver), count, -1)
        if events:
            pipe.rpush(self.keys.events, *(e.to_json() for e in events))
        pipe.zremrangebyscore(self.keys.sent, "-inf", at_s - SENT_KEEP_S)
        pipe.execute()

    def record_send(self, receiver: str, at_s: float, period_s: float) -> None:
        """Remember a send for the rate window, so a restart does not start a fresh one."""
        key = self.keys.rate(receiver)
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(key, {f"{at_s:.6f}:{uuid.uuid4().hex[:6]}": at_s})
        pipe.zremrangebyscore(key, "-inf", at_s - period_s)
        pipe.expire(key, int(period_s) + 60)
        pipe.execute()

    def recent_sends(self, receiver: str, since_s: float) -> list[float]:
        rows = self.client.zrangebyscore(self.keys.rate(receiver), since_s, "+inf", withscores=True)
        return [float(score) for _, score in rows]

    # -- commands (CLI, HTTP) ------------------------------------------------------------------

    def enqueue(self, command: dict[str, Any]) -> None:
        self.client.rpush(self.keys.commands, orjson.dumps(command))

    def pending_commands(self, count: int = 100) -> list[dict[str, Any]]:
        return [orjson.loads(c) for c in self.client.lrange(self.keys.commands, 0, count - 1)]

    def wait_reply(self, command_id: str, timeout_s: float) -> dict[str, Any] | None:
        got = self.client.blpop([self.keys.reply(command_id)], timeout=timeout_s)
        return None if got is None else dict(orjson.loads(got[1]))

    # -- ClickHouse outbox ---------------------------------------------------------------------

    def peek_events(self, count: int) -> list[AlertEvent]:
        return [AlertEvent.from_json(r) for r in self.client.lrange(self.keys.events, 0, count - 1)]

    def drop_events(self, count: int) -> None:
        self.client.ltrim(self.keys.events, count, -1)

    # -- reading (list) -----------------------------------------------------------------------

    def snapshot(self) -> tuple[list[AlertState], list[GroupState], list[Silence]]:
        k = self.keys
        return (
            [AlertState.from_dict(orjson.loads(v)) for v in self.client.hvals(k.alerts)],
            [GroupState.from_dict(orjson.loads(v)) for v in self.client.hvals(k.groups)],
            [Silence.from_dict(orjson.loads(v)) for v in self.client.hvals(k.silences)],
        )
