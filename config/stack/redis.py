"""Redis from Debian's ``redis-server``, on loopback, data in the state folder."""

from __future__ import annotations

from collections.abc import Sequence

import redis

from config.stack.process import Service

__all__ = ["RedisService"]


class RedisService(Service):
    """A throwaway Redis: no persistence, since Kafka is the source of truth."""

    name = "redis"

    @property
    def ports(self) -> Sequence[int]:
        return [self.settings.stack.redis_port]

    def prepare(self) -> None:
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        (self.home / "redis.conf").write_text(
            "\n".join(
                [
                    "bind 127.0.0.1 -::1",
                    f"port {self.settings.stack.redis_port}",
                    "protected-mode yes",
                    "daemonize no",
                    f"dir {self.home / 'data'}",
                    f"logfile {self.home / 'logs' / 'redis.log'}",
                    'save ""',
                    "appendonly no",
                    "maxmemory 1gb",
                    "maxmemory-policy noeviction",
                    "",
                ]
            )
        )

    def command(self) -> list[str]:
        return ["redis-server", str(self.home / "redis.conf")]

    def check_health(self) -> str:
        client = redis.Redis(
            host="127.0.0.1", port=self.settings.stack.redis_port, socket_timeout=1
        )
        try:
            info = client.info("server")
            return f"redis {info['redis_version']} on :{self.settings.stack.redis_port}"
        finally:
            client.close()
