"""The local stack: real Kafka, Redis and ClickHouse servers on loopback.

`make demo`, `make test` and CI all use it through `loanwatch stack up|down|status`.
Everything lives under the state folder (``.state/`` by default): config, data,
logs and pid files, one sub-folder per service.
"""

from __future__ import annotations

from config.settings import Settings
from config.stack.clickhouse import ClickHouseService
from config.stack.errors import StackError
from config.stack.kafka import KafkaService
from config.stack.prerequisites import ensure_installed
from config.stack.process import Service, ServiceStatus
from config.stack.redis import RedisService

__all__ = ["Service", "ServiceStatus", "StackError", "down", "services", "status", "up"]


def services(settings: Settings) -> list[Service]:
    """The stack's services, in start order."""
    return [KafkaService(settings), RedisService(settings), ClickHouseService(settings)]


def up(settings: Settings, *, allow_install: bool = True) -> list[ServiceStatus]:
    """Start whatever is not already running and wait until all are healthy."""
    ensure_installed(allow_install=allow_install)
    return [service.start() for service in services(settings)]


def down(settings: Settings) -> list[str]:
    """Stop the services this stack started; return the names that were running."""
    return [service.name for service in reversed(services(settings)) if service.stop()]


def status(settings: Settings) -> list[ServiceStatus]:
    return [service.status() for service in services(settings)]
