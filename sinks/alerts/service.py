"""`loanwatch alerts run`: warnings from Kafka to on-call people, without loss or repeats.

Its own consumer group (``<app_id>-alerts``) over the warnings topic, so it never slows
the risk agents. One loop, one writer of the alert state:

1. poll a batch of warnings (at most ``max_wait_s``, less when a group is due sooner);
2. feed them, and any ack / resolve / silence commands queued by the CLI or the HTTP
   endpoint, to the pure `AlertEngine`, then let it `tick` at the clock's ``now``;
3. persist the changed state, the new notifications (per-receiver outboxes) and the
   events in one Redis transaction, *then* commit the Kafka offsets;
4. deliver what the outboxes hold, as far as each receiver's rate limit allows; a
   receiver over its limit keeps its queue and gets it batched into one message later;
5. move the events outbox to ClickHouse.

A crash between 3 and the commit redelivers warnings the restored engine already
knows (deduplicated by warning id); a crash during 4 re-reads the outbox, and the
delivery ledger skips each channel that already took a notification. One instance
per deployment (the groups span partitions); run a second only as a cold standby.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from config import Settings
from sinks.alerts.channels import Channel, RateWindow, channels_for
from sinks.alerts.engine import AlertEngine, Outcome
from sinks.alerts.exceptions import AlertError, DeliveryError
from sinks.alerts.history import EventHistory
from sinks.alerts.matchers import parse_matcher
from sinks.alerts.model import AlertEvent, Notification, Silence, alert_from_warning
from sinks.alerts.render import render
from sinks.alerts.routing import AlertConfig
from sinks.alerts.store import AlertStore
from sinks.metrics import SinkMetrics
from sinks.source import batch_consumer, commit_batch, poll_batch

__all__ = ["AlertService", "ServiceStep", "apply_command", "utc_now"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

LEASE_MS = 15_000
"""The ``leader`` lease: a stopped or hung instance is replaced within this."""
RESOLVED_KEEP_S = 7 * 86400
"""Resolved alerts are remembered (for dedup and `list`) this long, then purged."""
_LEASE_LUA = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1
end
return 0
"""
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ServiceStep:
    """What one `AlertService.step` did."""

    consumed: int = 0
    ingested: int = 0
    duplicates: int = 0
    skipped: int = 0
    commands: int = 0
    decided: int = 0  # notifications the engine queued
    delivered: int = 0  # notifications that went out on every channel
    messages: int = 0  # messages sent (a batch of notifications is one message)
    history: int = 0
    errors: list[str] = field(default_factory=list)


def apply_command(engine: AlertEngine, command: Mapping[str, Any], now: datetime) -> Outcome:
    """One queued command on the engine; `AlertError` for an unknown ref or bad matcher."""
    op = command.get("op")
    at = datetime.fromisoformat(command["at"]) if command.get("at") else now
    by = str(command.get("by") or "unknown")
    if op == "ack":
        return engine.ack(str(command["ref"]), by, at)
    if op == "resolve":
        return engine.resolve(str(command["ref"]), by, at)
    if op == "silence":
        silence = Silence(
            id=str(command["id"]),
            matchers=tuple(parse_matcher(m, "silence") for m in command["matchers"]),
            starts_at=datetime.fromisoformat(command.get("starts_at") or at.isoformat()),
            ends_at=datetime.fromisoformat(command["ends_at"]),
            author=by,
            comment=str(command.get("comment", "")),
        )
        if not silence.matchers:
            raise AlertError("a silence needs at least one matcher")
        engine.add_silence(silence)
        return Outcome()
    if op == "expire":
        engine.expire_silence(str(command["id"]), at)
        return Outcome()
    raise AlertError(f"unknown command {op!r}")


class AlertService:
    """The loop described in the module docstring; `step` once, or `run` until stopped.

    ``clock`` gives ``now`` (tests move it); ``channels`` may replace a receiver's
    channels; ``metrics`` gets the sinks' hooks (``alerts`` for the loop,
    ``alerts.<receiver>`` for deliveries); ``history`` is a ClickHouse client, ``None``
    for none, or ``"auto"`` to connect per ``settings.alerts.clickhouse``.
    """

    def __init__(
        self,
        settings: Settings,
        config: AlertConfig,
        *,
        topics: Sequence[str] | None = None,
        group_id: str | None = None,
        prefix: str | None = None,
        clock: Clock = utc_now,
        max_rows: int = 2_000,
        max_wait_s: float = 0.2,
        stop_event: threading.Event | None = None,
        redis_client: Any | None = None,
        history: Any = "auto",
        channels: Mapping[str, Sequence[Channel]] | None = None,
        metrics: SinkMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.clock = clock
        self.metrics = metrics or SinkMetrics()
        self.max_rows = max_rows
        self.max_wait_s = max_wait_s
        self.stop_event = stop_event or threading.Event()
        self.key = settings.alerts.ref_key.get_secret_value().encode()
        if redis_client is None:
            import redis

            redis_client = redis.Redis.from_url(
                settings.redis.url, **settings.redis.client_kwargs()
            )
        self.redis = redis_client
        self._lease = redis_client.register_script(_LEASE_LUA)
        self.store = AlertStore(
            redis_client, (prefix if prefix is not None else settings.redis.key_prefix) + "alerts:"
        )
        self.engine = AlertEngine(config)  # loaded from Redis when this instance wins the lease
        self.channels: dict[str, list[Channel]] = {
            name: channels_for(r.urls, r.dingtalk) for name, r in config.receivers.items()
        }
        self.channels.update({k: list(v) for k, v in (channels or {}).items()})
        self.windows = {
            name: RateWindow(r.rate_limit, r.rate_period_s) for name, r in config.receivers.items()
        }
        self.retry_at: dict[str, float] = {}
        self.history: EventHistory | None = None
        if history == "auto":
            history = None
            if settings.alerts.clickhouse:
                from clickhouse_driver import Client

                history = Client(**settings.clickhouse.driver_kwargs())
        if history is not None:
            self.history = EventHistory(self.store, history, settings.clickhouse.database)
        self.topics = list(topics if topics is not None else [settings.topics.warnings])
        self.group_id = group_id or f"{settings.app_id}-alerts"
        self.instance = uuid.uuid4().hex
        self.consumer: Any | None = None  # joined only while this instance holds the lease
        self.last_purge = 0.0

    # -- the lease: one active instance ---------------------------------------------------------

    def _lead(self) -> bool:
        """Take or renew the ``leader`` lease; on winning it, reload the state and join Kafka.

        A standby never joins the consumer group: a member that does not poll would hold
        partitions hostage. Losing the lease (a pause longer than the TTL) drops out at once.
        """
        held = bool(self._lease(keys=[self.store.keys.leader], args=[self.instance, LEASE_MS]))
        if held and self.consumer is None:
            self.engine = AlertEngine(self.config)
            self.store.load(self.engine)
            for name, window in self.windows.items():  # what the previous instance sent
                for at_s in self.store.recent_sends(name, time.time() - window.period_s):
                    window.record(at_s)
            self.consumer = batch_consumer(self.settings, self.group_id, self.topics)
            log.info("alerts: this instance (%s) is active", self.instance[:8])
        elif not held and self.consumer is not None:
            log.warning("alerts: lost the lease to another instance; standing by")
            self._leave_kafka()
        return held

    # -- the loop -----------------------------------------------------------------------------

    def step(self) -> ServiceStep:
        result = ServiceStep()
        started = time.monotonic()
        if not self._lead():
            self.stop_event.wait(min(1.0, LEASE_MS / 3000))
            return result
        if time.monotonic() - self.last_purge > 60:
            self.engine.purge(self.clock(), RESOLVED_KEEP_S)
            self.last_purge = time.monotonic()
        wait = self.max_wait_s
        due = self.engine.next_due()
        if due is not None:
            wait = min(wait, max((due - self.clock()).total_seconds(), 0.01))
        messages = poll_batch(self.consumer, self.max_rows, wait, self.stop_event)
        result.consumed = len(messages)
        now = self.clock()
        outcome = Outcome()
        for message in messages:
            try:
                alert = alert_from_warning(orjson.loads(message.value or b""), self.key)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                result.skipped += 1
                log.warning(
                    "alerts: skipping %s[%d]@%d: %r",
                    message.topic,
                    message.partition,
                    message.offset,
                    exc,
                )
                continue
            got = self.engine.ingest(alert, now)
            result.ingested += 1
            result.duplicates += got.duplicate
            outcome.extend(got)
        commands = self.store.pending_commands()
        replies: list[tuple[str, dict[str, Any]]] = []
        silences: list[Silence] = []
        for command in commands:
            try:
                outcome.extend(apply_command(self.engine, command, now))
                if command.get("op") in ("silence", "expire"):
                    silences.append(self.engine.silences[str(command["id"])])
                answer: dict[str, Any] = {"ok": True}
            except AlertError as exc:
                answer = {"ok": False, "error": str(exc)}
            except Exception as exc:  # noqa: BLE001 - a malformed request must not wedge the queue
                log.warning("alerts: bad command %r: %r", command, exc)
                answer = {"ok": False, "error": f"bad request: {exc!r}"}
            if command.get("id_reply"):
                replies.append((str(command["id_reply"]), answer))
        result.commands = len(commands)
        outcome.extend(self.engine.tick(now))
        result.decided = len(outcome.notifications)
        if not self._lead():  # the step outlived the lease: another instance owns the state
            return result
        self.store.persist(
            self.engine,
            outcome.notifications,
            outcome.events,
            silences=silences,
            commands_done=len(commands),
            replies=replies,
        )
        if messages:
            commit_batch(self.consumer, messages)
            self.metrics.batch_written("alerts", len(messages), time.monotonic() - started)
        result.delivered, result.messages = self.deliver()
        if self.history is not None:
            result.history = self.history.flush()
        return result

    def run(self) -> None:
        """Step until stopped. Redis unavailable: drop out of Kafka and wait, then resume.

        A step that failed on Redis may have advanced the engine past what Redis holds,
        and its offsets are uncommitted; so the engine is rebuilt from Redis and the
        consumer rejoins from the committed offsets, the same path as a restart.
        """
        from redis.exceptions import ConnectionError, TimeoutError

        from config.outage import Outage, redis_address, short_reason

        outage = Outage(
            "Redis",
            redis_address(self.settings.redis.url),
            say=lambda line: log.warning("alerts paused: %s", line),
        )
        delay = 0.5
        try:
            while not self.stop_event.is_set():
                try:
                    self.step()
                    if outage.down:
                        outage.recovered()
                        log.warning("alerts: resumed from the stored state")
                        self.metrics.degraded("alerts", False)
                    delay = 0.5
                except (ConnectionError, TimeoutError, OSError) as exc:
                    if not outage.down:
                        self.metrics.degraded("alerts", True)
                    outage.failed(short_reason(exc))
                    self._leave_kafka()
                    self.stop_event.wait(delay)
                    delay = min(delay * 2, 10.0)
        finally:
            self.close()

    def _leave_kafka(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None

    def close(self) -> None:
        from redis.exceptions import RedisError

        self._leave_kafka()
        try:
            self.redis.eval(_RELEASE_LUA, 1, self.store.keys.leader, self.instance)
        except RedisError:  # the lease then simply expires
            log.warning("alerts: could not release the lease; it expires in %d ms", LEASE_MS)
        if self.history is not None:
            self.history.close()

    # -- delivery -------------------------------------------------------------------------------

    def deliver(self) -> tuple[int, int]:
        """Send what the outboxes hold, within each receiver's rate limit and retry backoff.

        Within the limit every notification is its own message; when the queue is longer
        than the messages the window still allows, notifications are batched so the
        queue drains in what is left (at most ``max_batch`` per message), never dropped.
        """
        delivered = messages = 0
        waiting = self.store.receivers_waiting(self.config.receivers)
        for name, queued in waiting.items():
            receiver = self.config.receivers[name]
            window = self.windows[name]
            while queued > 0:
                mono, wall = time.monotonic(), time.time()
                if mono < self.retry_at.get(name, 0.0) or not window.allows(wall):
                    break
                free = window.free(wall)
                size = 1 if queued <= free else min(receiver.max_batch, -(-queued // free))
                batch = self.store.peek(name, size)
                if not batch:
                    break
                sent = self._send(name, batch)
                window.record(wall)
                self.store.record_send(name, wall, receiver.rate_period_s)
                messages += 1
                if not sent:
                    self.retry_at[name] = mono + 2.0
                    self.metrics.retried(f"alerts.{name}")
                    break
                self.retry_at.pop(name, None)
                self._finish(name, batch)
                self.metrics.batch_written(f"alerts.{name}", len(batch), time.monotonic() - mono)
                delivered += len(batch)
                queued -= len(batch)
        return delivered, messages

    def _finish(self, name: str, batch: list[Notification]) -> None:
        now = self.clock()
        events = [
            AlertEvent.of(
                "sent",
                alert,
                n.group_ref,
                now,
                receiver=name,
                level=n.level,
                notification_id=n.id,
                detail=n.kind,
            )
            for n in batch
            for alert in (*n.firing, *n.resolved)
        ]
        self.store.finish(name, len(batch), events, now.timestamp())

    def _send(self, name: str, batch: list[Notification]) -> bool:
        receiver = self.config.receivers[name]
        for index, channel in enumerate(self.channels[name]):
            done = self.store.delivered(f"{n.id}@{index}" for n in batch)
            todo = [n for n in batch if f"{n.id}@{index}" not in done]
            if not todo:
                continue
            message = render(todo, receiver.language, self.config.ack_url)
            try:
                channel.send(message)
            except DeliveryError as exc:
                log.warning("alerts: %s via %s failed, will retry: %s", name, channel.name, exc)
                return False
            self.store.mark_delivered([f"{n.id}@{index}" for n in todo], time.time())
        return True
