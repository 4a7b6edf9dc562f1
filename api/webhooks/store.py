"""Subscriptions and their deliveries in Redis, under ``<prefix>api:hooks:``.

=====================  ======  ====================================================
``subs``               hash    subscription id -> its JSON (URL, filter, secret, owner)
``jobs``               hash    delivery id -> ``{sub, body, attempts, last_error}``
``due``                zset    delivery id -> when to try it next (epoch ms)
``dead:<sub id>``      list    deliveries given up on, newest first (at most 1,000)
=====================  ======  ====================================================

A delivery's id hashes (subscription, warning id, status), and it is added only if
absent, so a warning the outbox reads twice (a redelivered batch) is sent once. The
outbox commits its Kafka offsets only after Redis took the deliveries, so nothing
is lost across a restart of either side. The secret is kept in clear: signing needs
it, and it protects only this subscription's messages.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from api.webhooks.matching import HookFilter

__all__ = ["DEAD_MAX", "Delivery", "HookStore", "Subscription"]

DEAD_MAX = 1_000


@dataclass(frozen=True, slots=True)
class Subscription:
    hook_id: str
    url: str
    filter: dict[str, Any]
    secret: str
    owner: str  # the subject that created it ("key:<id>", "oidc:<sub>")
    created_at: str

    def wants(self, warning: dict[str, Any]) -> bool:
        return HookFilter.model_validate(self.filter).matches(warning)

    def shown(self) -> dict[str, Any]:
        """Without the secret: what listing shows."""
        return {k: v for k, v in asdict(self).items() if k != "secret"}


@dataclass(frozen=True, slots=True)
class Delivery:
    delivery_id: str
    hook_id: str
    body: bytes
    attempts: int


class HookStore:
    """One sync ``redis-py`` client over the keys above."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.base = f"{prefix}api:hooks:"

    # -- subscriptions -----------------------------------------------------------------

    def subscribe(self, url: str, hook_filter: HookFilter, owner: str) -> Subscription:
        sub = Subscription(
            hook_id="wh-" + secrets.token_hex(6),
            url=url,
            filter=hook_filter.model_dump(),
            secret=secrets.token_urlsafe(32),
            owner=owner,
            created_at=datetime.now(UTC).isoformat(),
        )
        self.client.hset(self.base + "subs", sub.hook_id, orjson.dumps(asdict(sub)))
        return sub

    def subscriptions(self) -> list[Subscription]:
        subs = [Subscription(**orjson.loads(v)) for v in self.client.hvals(self.base + "subs")]
        return sorted(subs, key=lambda s: (s.created_at, s.hook_id))

    def get(self, hook_id: str) -> Subscription | None:
        raw = self.client.hget(self.base + "subs", hook_id)
        return None if raw is None else Subscription(**orjson.loads(raw))

    def unsubscribe(self, hook_id: str) -> None:
        """Forget the subscription; its pending deliveries are dropped when next due."""
        self.client.hdel(self.base + "subs", hook_id)

    # -- deliveries --------------------------------------------------------------------

    def enqueue(self, pairs: list[tuple[Subscription, dict[str, Any], bytes]], now_ms: int) -> int:
        """Add a delivery per (subscription, warning, its bytes) not already queued or sent."""
        if not pairs:
            return 0
        pipe = self.client.pipeline(transaction=True)
        ids = []
        for sub, warning, body in pairs:
            key = f"{sub.hook_id}|{warning.get('warning_id')}|{warning.get('status')}"
            delivery_id = hashlib.sha256(key.encode()).hexdigest()[:24]
            job = {"sub": sub.hook_id, "body": body.decode(), "attempts": 0, "last_error": ""}
            pipe.hsetnx(self.base + "jobs", delivery_id, orjson.dumps(job))
            ids.append(delivery_id)
        added = pipe.execute()
        pipe = self.client.pipeline(transaction=True)
        for delivery_id, new in zip(ids, added, strict=True):
            if new:
                pipe.zadd(self.base + "due", {delivery_id: now_ms}, nx=True)
        pipe.execute()
        return sum(bool(a) for a in added)

    def due(self, now_ms: int, count: int = 100) -> list[Delivery]:
        ids = self.client.zrangebyscore(self.base + "due", "-inf", now_ms, start=0, num=count)
        if not ids:
            return []
        raws = self.client.hmget(self.base + "jobs", ids)
        out = []
        for delivery_id, raw in zip(ids, raws, strict=True):
            if raw is None:  # finished by another deliverer
                self.client.zrem(self.base + "due", delivery_id)
                continue
            job = orjson.loads(raw)
            out.append(
                Delivery(_text(delivery_id), job["sub"], job["body"].encode(), job["attempts"])
            )
        return out

    def delivered(self, delivery: Delivery) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(self.base + "jobs", delivery.delivery_id)
        pipe.zrem(self.base + "due", delivery.delivery_id)
        pipe.execute()

    def failed(self, delivery: Delivery, error: str, retry_at_ms: int | None) -> None:
        """Try again at ``retry_at_ms``, or (None) give up into the dead letters."""
        attempts = delivery.attempts + 1
        pipe = self.client.pipeline(transaction=True)
        if retry_at_ms is None:
            letter = {"delivery_id": delivery.delivery_id, "attempts": attempts, "error": error,
                      "failed_at": datetime.now(UTC).isoformat(),
                      "body": orjson.loads(delivery.body)}  # fmt: skip
            dead = f"{self.base}dead:{delivery.hook_id}"
            pipe.lpush(dead, orjson.dumps(letter))
            pipe.ltrim(dead, 0, DEAD_MAX - 1)
            pipe.hdel(self.base + "jobs", delivery.delivery_id)
            pipe.zrem(self.base + "due", delivery.delivery_id)
        else:
            job = {"sub": delivery.hook_id, "body": delivery.body.decode(),
                   "attempts": attempts, "last_error": error}  # fmt: skip
            pipe.hset(self.base + "jobs", delivery.delivery_id, orjson.dumps(job))
            pipe.zadd(self.base + "due", {delivery.delivery_id: retry_at_ms})
        pipe.execute()

    def dead_letters(self, hook_id: str) -> list[dict[str, Any]]:
        return [orjson.loads(v) for v in self.client.lrange(f"{self.base}dead:{hook_id}", 0, -1)]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
