"""Fixtures for tests against the real local stack (Kafka, Redis, ClickHouse).

The stack is started once per session (idempotent: a running stack is reused),
and each test gets its own Kafka topic, Redis key prefix and ClickHouse database,
so tests never see each other's data and a second run starts clean.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from clickhouse_driver import Client
from confluent_kafka.admin import AdminClient, NewTopic

from config import Settings, load_settings
from config import stack as local_stack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> list[local_stack.ServiceStatus]:
    return local_stack.up(settings)


@pytest.fixture
def unique() -> str:
    """A short name fragment unique to this test run."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def kafka_admin(stack: object, settings: Settings) -> AdminClient:
    return AdminClient(settings.kafka.confluent_config())


@pytest.fixture
def topic(kafka_admin: AdminClient, unique: str) -> Iterator[str]:
    name = f"test.{unique}"
    futures = kafka_admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
    futures[name].result(timeout=30)
    yield name
    kafka_admin.delete_topics([name])[name].result(timeout=30)


@pytest.fixture
def redis_client(stack: object, settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.redis.url, **settings.redis.client_kwargs())
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis, unique: str) -> Iterator[str]:
    prefix = f"test:{unique}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=prefix + "*"))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def clickhouse(stack: object, settings: Settings, unique: str) -> Iterator[Client]:
    """A client bound to a fresh database that is dropped after the test."""
    database = f"test_{unique}"
    admin = Client(**settings.clickhouse.driver_kwargs(database="default"))
    admin.execute(f"CREATE DATABASE {database}")
    client = Client(**settings.clickhouse.driver_kwargs(database=database))
    yield client
    client.disconnect()
    admin.execute(f"DROP DATABASE IF EXISTS {database}")
    admin.disconnect()


@pytest.fixture
def worker_env(tmp_path: Path, unique: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOANWATCH_")}
    env.update(
        {
            "LOANWATCH_APP_ID": f"test-{unique}",
            "LOANWATCH_TOPICS__EVENTS": f"test.{unique}.events",
            "LOANWATCH_TOPICS__DLQ": f"test.{unique}.dlq",
            "LOANWATCH_TOPICS__WARNINGS": f"test.{unique}.warnings",
            "LOANWATCH_TOPICS__TRANSITIONS": f"test.{unique}.transitions",
            "LOANWATCH_TOPICS__ACTIONS": f"test.{unique}.actions",
            "LOANWATCH_TOPICS__RULES": f"test.{unique}.rules",
            "LOANWATCH_DATA_DIR": str(tmp_path / "worker"),
            # Replays age loans by event time; a short interval keeps tests quick.
            "LOANWATCH_WORKER__CLOCK": "event",
            "LOANWATCH_WORKER__CLOCK_INTERVAL_S": "0.5",
        }
    )
    return env


@pytest.fixture
def worker(
    stack: list[local_stack.ServiceStatus], worker_env: dict[str, str], tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "worker"],
        env=worker_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    yield proc
    if proc.poll() is not None:
        print((tmp_path / "worker.log").read_text(errors="replace")[-5000:])
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
