"""The stores the API reads and the topic it writes, built once from the settings.

Handlers run in FastAPI's thread pool, so each client here is safe to share between
threads: redis-py's pool, a pool of clickhouse-driver clients (one client is not),
and one librdkafka producer.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from api.keys import KeyStore
from api.oidc import OidcVerifier
from config import Settings
from sinks.alerts.store import AlertStore

__all__ = ["Backends", "ClickHousePool"]


class ClickHousePool:
    """clickhouse-driver clients lent one per thread at a time, made on demand."""

    def __init__(self, kwargs: dict[str, Any], size: int = 8) -> None:
        self.kwargs = kwargs
        self.idle: queue.LifoQueue[Any] = queue.LifoQueue(maxsize=size)

    @contextmanager
    def client(self) -> Iterator[Any]:
        try:
            client = self.idle.get_nowait()
        except queue.Empty:
            from clickhouse_driver import Client

            client = Client(**self.kwargs)
        try:
            yield client
        except BaseException:
            client.disconnect()  # its connection may be mid-answer
            raise
        try:
            self.idle.put_nowait(client)
        except queue.Full:
            client.disconnect()

    def close(self) -> None:
        while True:
            try:
                self.idle.get_nowait().disconnect()
            except queue.Empty:
                return


def _async_redis(settings: Settings) -> Any:
    """``redis.asyncio`` with the settings' timeouts, TLS and credentials, and its own
    retry class (the sync one is refused)."""
    import redis.asyncio
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    kwargs = {**settings.redis.client_kwargs(), "retry": Retry(NoBackoff(), settings.redis.retries)}
    return redis.asyncio.Redis.from_url(settings.redis.url, **kwargs)


def _oidc(settings: Settings) -> OidcVerifier | None:
    api = settings.api
    if api.oidc_issuer is None or api.oidc_jwks_url is None:
        return None
    return OidcVerifier(
        api.oidc_issuer, api.oidc_jwks_url, api.oidc_audience, api.oidc_role_claim,
        api.oidc_team_claim,
    )  # fmt: skip


@dataclass
class Backends:
    """What the handlers use; `from_settings` builds it, `close` releases it."""

    settings: Settings
    redis: Any
    aredis: Any
    """A ``redis.asyncio`` client for the hot reads (key check, card), made on the
    server's loop at first use; closed by the app's lifespan."""
    clickhouse: ClickHousePool
    producer: Any
    prefix: str
    database: str
    events_topic: str
    oidc: OidcVerifier | None = None
    """Staff tokens' verifier, when an issuer is configured."""

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        prefix: str | None = None,
        database: str | None = None,
        events_topic: str | None = None,
    ) -> Backends:
        """Clients for ``settings``; tests pass their own key prefix, database and topic."""
        import redis
        from confluent_kafka import Producer

        database = database or settings.clickhouse.database
        return cls(
            settings=settings,
            redis=redis.Redis.from_url(settings.redis.url, **settings.redis.client_kwargs()),
            aredis=_async_redis(settings),
            clickhouse=ClickHousePool(settings.clickhouse.driver_kwargs(database=database)),
            producer=Producer(settings.kafka.ordered_producer_config()),
            prefix=prefix if prefix is not None else settings.redis.key_prefix,
            database=database,
            events_topic=events_topic or settings.topics.events,
            oidc=_oidc(settings),
        )

    @property
    def keys(self) -> KeyStore:
        return KeyStore(self.redis, self.prefix)

    @property
    def alerts(self) -> AlertStore:
        return AlertStore(self.redis, self.prefix + "alerts:")

    def close(self) -> None:
        self.producer.flush(5)
        self.clickhouse.close()
        self.redis.close()
