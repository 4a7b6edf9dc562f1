"""`loanwatch webhooks run`: fill the outbox from the warnings topic and deliver it.

`HookOutbox` is a sink writer like the Redis and ClickHouse ones: its own consumer
group over ``risk.warnings``, a batch becomes deliveries in Redis (one per matching
subscription), and only then are the offsets committed. `Deliverer` POSTs what is
due, signed (`api.webhooks.signing`); a 2xx ends a delivery, anything else (an
error status, a refused connection, a timeout) schedules it again after 1, 2, 4 ...
seconds (capped), and after ``max_attempts`` it goes to the subscription's dead
letters, which the integration reads back through the API.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from api.webhooks.signing import HEADER, sign
from api.webhooks.store import Delivery, HookStore
from api.webhooks.targets import refusal
from config import Settings
from config.outage import redis_errors
from sinks.source import BatchWriter

__all__ = ["Deliverer", "HookOutbox", "run"]

log = logging.getLogger(__name__)

Post = Callable[[str, bytes, dict[str, str], float], int]


@dataclass
class OutboxResult:
    consumed: int = 0
    queued: int = 0
    skipped: int = 0
    retries: int = 0
    committed: bool = False


class HookOutbox(BatchWriter):
    """Warnings -> deliveries in Redis, committed after Redis took them."""

    sink = "webhooks"

    def __init__(
        self,
        settings: Settings,
        store: HookStore,
        *,
        topics: list[str] | None = None,
        group_id: str | None = None,
        **options: Any,
    ) -> None:
        topics = topics or [settings.topics.warnings]
        group = group_id or f"{settings.app_id}-webhooks"
        super().__init__(settings, topics, group, **options)
        self.store = store

    def drain_once(self) -> OutboxResult:
        started = time.monotonic()
        result = OutboxResult()
        messages = self._poll_batch()
        result.consumed = len(messages)
        if not messages:
            return result
        subs = self._retry(self.store.subscriptions, redis_errors(), result)
        pairs = []
        for message in messages:
            try:
                warning = orjson.loads(message.value or b"")
            except orjson.JSONDecodeError:
                warning = None
            if not isinstance(warning, dict):
                result.skipped += 1
                log.warning("webhooks: skipping %s@%d: not a JSON object", message.topic,
                            message.offset)  # fmt: skip
                continue
            pairs += [(s, warning, message.value or b"") for s in subs if s.wants(warning)]
        now_ms = int(time.time() * 1000)
        result.queued = self._retry(
            lambda: self.store.enqueue(pairs, now_ms), redis_errors(), result
        )
        result.committed = self._commit(messages, started)
        return result

    def close_store(self) -> None:
        self.store.client.close()


def _post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) only, checked at subscription
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


class Deliverer:
    """POSTs the due deliveries; ``post`` and ``clock`` are the network and time it uses."""

    def __init__(
        self,
        store: HookStore,
        *,
        max_attempts: int = 8,
        backoff_s: float = 1.0,
        backoff_max_s: float = 300.0,
        timeout_s: float = 5.0,
        allow_private: bool = False,
        post: Post = _post,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.timeout_s = timeout_s
        self.allow_private = allow_private
        self.post = post
        self.clock = clock

    def deliver_due(self) -> int:
        """Try every due delivery once; returns how many were tried."""
        now = self.clock()
        due = self.store.due(int(now * 1000))
        for delivery in due:
            self._try(delivery, now)
        return len(due)

    def _try(self, delivery: Delivery, now: float) -> None:
        sub = self.store.get(delivery.hook_id)
        if sub is None:  # unsubscribed since: nobody to tell
            self.store.delivered(delivery)
            return
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "loanwatch-webhooks",
            "X-Loanwatch-Delivery": delivery.delivery_id,
            HEADER: sign(sub.secret.encode(), int(now), delivery.body),
        }
        refused = refusal(sub.url, allow_private=self.allow_private)
        try:
            if refused is not None:  # the name resolves elsewhere than at subscription
                raise ValueError(f"target refused: {refused}")
            status = self.post(sub.url, delivery.body, headers, self.timeout_s)
            error = "" if 200 <= status < 300 else f"HTTP {status}"
        except (OSError, ValueError) as exc:  # refused, timed out, unresolvable
            error = f"{type(exc).__name__}: {exc}"[:300]
        if not error:
            self.store.delivered(delivery)
            return
        attempts = delivery.attempts + 1
        if attempts >= self.max_attempts:
            log.warning("webhook %s: giving up on %s after %d attempts (%s)", sub.hook_id,
                        delivery.delivery_id, attempts, error)  # fmt: skip
            self.store.failed(delivery, error, None)
            return
        wait = min(self.backoff_s * 2 ** (attempts - 1), self.backoff_max_s)
        self.store.failed(delivery, error, int((now + wait) * 1000))


def run(settings: Settings, stop: threading.Event, **options: Any) -> None:
    """The outbox in a thread and the deliverer here, until ``stop`` is set."""
    import redis

    client = redis.Redis.from_url(settings.redis.url, **settings.redis.client_kwargs())
    store = HookStore(client, settings.redis.key_prefix)
    outbox = HookOutbox(settings, store, stop_event=stop, **options)
    thread = threading.Thread(target=outbox.run, name="webhooks-outbox", daemon=True)
    thread.start()
    api = settings.api
    deliverer = Deliverer(
        store, max_attempts=api.webhook_max_attempts, backoff_s=api.webhook_backoff_s,
        backoff_max_s=api.webhook_backoff_max_s, timeout_s=api.webhook_timeout_s,
        allow_private=api.webhook_private_targets,
    )  # fmt: skip
    try:
        while not stop.is_set():
            try:
                tried = deliverer.deliver_due()
            except redis_errors() as exc:
                log.warning("webhooks: Redis unavailable (%s); retrying", exc)
                tried = 0
                stop.wait(1.0)
            if not tried:
                stop.wait(0.2)
    finally:
        stop.set()
        thread.join(30)
