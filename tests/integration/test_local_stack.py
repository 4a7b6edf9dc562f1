"""The local stack serves real Kafka, Redis and ClickHouse, and `up` is idempotent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import redis
from clickhouse_driver import Client
from confluent_kafka import Consumer, Producer

from config import Settings
from config import stack as local_stack
from config.settings import RedisSettings


def test_stack_up_twice_keeps_the_same_processes(
    settings: Settings, stack: list[local_stack.ServiceStatus]
) -> None:
    again = local_stack.up(settings)
    assert [s.pid for s in again] == [s.pid for s in stack]
    assert all(s.healthy for s in again)
    assert {s.name for s in again} == {"kafka", "redis", "clickhouse"}


def test_kafka_round_trips_keyed_messages_in_order_per_key(settings: Settings, topic: str) -> None:
    producer = Producer(settings.kafka.ordered_producer_config())
    sent = [(f"loan-{i % 3}".encode(), f"event-{i}".encode()) for i in range(30)]
    for key, value in sent:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0

    consumer = Consumer(
        {
            **settings.kafka.confluent_config(),
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    received: list[tuple[bytes, bytes]] = []
    try:
        deadline = datetime.now(UTC).timestamp() + 60
        while len(received) < len(sent) and datetime.now(UTC).timestamp() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            received.append((msg.key(), msg.value()))
    finally:
        consumer.close()

    assert sorted(received) == sorted(sent)
    for key in {k for k, _ in sent}:
        assert [v for k, v in received if k == key] == [v for k, v in sent if k == key]


def test_redis_stores_and_returns_a_hash(redis_client: redis.Redis, redis_prefix: str) -> None:
    key = redis_prefix + "loan:L1"
    redis_client.hset(key, mapping={"dpd": 31, "bucket": "M2"})
    assert redis_client.hgetall(key) == {b"dpd": b"31", b"bucket": b"M2"}


def test_redis_acl_user_from_settings_authenticates_and_a_wrong_password_is_refused(
    redis_client: redis.Redis, unique: str, settings: Settings
) -> None:
    user = f"lw_test_{unique}"
    redis_client.execute_command("ACL", "SETUSER", user, "on", ">s3cret-pw", "~lw:*", "+@all")
    try:
        good = RedisSettings(url=settings.redis.url, username=user, password="s3cret-pw")
        client = redis.Redis.from_url(good.url, **good.client_kwargs())
        assert client.execute_command("ACL", "WHOAMI") == user.encode()
        client.close()

        bad = RedisSettings(url=settings.redis.url, username=user, password="wrong")
        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(bad.url, **bad.client_kwargs()).ping()
    finally:
        redis_client.execute_command("ACL", "DELUSER", user)


def test_clickhouse_inserts_columnar_rows_and_reads_them_back(clickhouse: Client) -> None:
    clickhouse.execute(
        "CREATE TABLE t (loan_id String, dpd UInt16, at DateTime) "
        "ENGINE = MergeTree ORDER BY (loan_id, at)"
    )
    at = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    clickhouse.execute(
        "INSERT INTO t (loan_id, dpd, at) VALUES",
        [["L1", "L2"], [0, 45], [at, at]],
        columnar=True,
    )
    rows = clickhouse.execute("SELECT loan_id, dpd FROM t ORDER BY loan_id")
    assert rows == [("L1", 0), ("L2", 45)]
