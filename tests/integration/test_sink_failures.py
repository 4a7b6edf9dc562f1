"""The writers against servers that die mid-stream and come back.

The shared stack's servers are used by other tests at the same time, so they are
never stopped. Each test here starts its own private ``redis-server`` or
``clickhouse-server`` with the stack's own service code (`config.stack`), on free
loopback ports with its data under the test's temporary folder, kills it by pid
while the writer is working, and starts it again on the same port and folder.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from clickhouse_driver import Client

# Sibling modules of this folder (pytest puts it on the path): the same helpers.
from test_clickhouse_writer import committed, free_port
from test_redis_sink import produce, snapshot

from config import Settings
from config.stack import Service
from config.stack.clickhouse import ClickHouseService
from config.stack.redis import RedisService
from sinks.clickhouse import ClickHouseWriter, migrate
from sinks.metrics import CountingMetrics
from sinks.redis import RedisWriter, lookup


class PrivateServer:
    """One stack service of our own, under ``home``; started, killed and restarted by pid."""

    def __init__(self, kind: type[Service], settings: Settings, home: Path, **ports: int) -> None:
        stack = settings.stack.model_copy(
            update={"state_dir": home, "start_timeout_s": 60.0, **ports}
        )
        self.service = kind(settings.model_copy(update={"stack": stack}))

    def start(self) -> None:
        self.service.start()

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: no shutdown, no goodbye to clients."""
        pid = self.service.pid()
        assert pid is not None, f"{self.service.name} is not running"
        os.killpg(pid, signal.SIGKILL)
        wait_for(lambda: self.service.pid() is None, 30, f"{self.service.name} to die")

    def stop(self) -> None:
        self.service.stop(timeout=15)


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s}s waiting for {what}"
        time.sleep(0.1)


def warning(n: int, status: str = "open", **changes: Any) -> dict[str, Any]:
    """Warning ``n`` of loan ``n % 11``; a resolution is judged a day after its opening."""
    body: dict[str, Any] = {
        "schema_version": 1,
        "warning_id": f"w{n:05d}",
        "status": status,
        "loan_id": f"L-{n % 11:04d}",
        "borrower_id": f"bw-{n % 11 % 5}",  # one borrower per loan, several loans each
        "rule_id": ("dpd_30", "high_pd", "partial_payment")[n % 3],
        "rule_version": 1,
        "pack_digest": "9b1f",
        "severity": ("medium", "high", "critical")[n % 3],
        "owner_team": ("collections", "risk-review")[n % 2],
        "message": f"warning {n}",
        "episode": 1,
        "episode_key": "",
        "reasons": [{"name": "loan.dpd", "value": n % 90}],
        "score": round(0.3 + (n % 7) / 10, 2) if n % 3 == 1 else None,
        "dpd": n % 90,
        "bucket": "M1" if n % 90 <= 30 else "M2",
        "klass": "special_mention",
        "event_id": f"e{n}",
        "event_time": f"2026-03-{1 + n % 28:02d}T{n % 24:02d}:00:00+00:00",
        "produced_at": f"2026-04-{1 + n % 28:02d}T00:00:0{1 if status == 'open' else 2}+00:00",
    }
    body.update(changes)
    return body


def transition(n: int) -> dict[str, Any]:
    """Transition ``n`` of loan ``n % 11``, stamped as docs/warnings.md says. Those of loans
    0-3 happen in April, after every warning, so they decide those cards' state; the others
    in March, among the warnings, so the newest warning or transition decides."""
    dpd = (n * 7) % 120
    bucket = "M0" if dpd == 0 else f"M{min((dpd - 1) // 30 + 1, 4)}"
    klass = ("normal", "special_mention", "substandard")[n % 3]
    month = 4 if n % 11 < 4 else 3
    day = 1 + (n * 5) % 28
    kind = ("bucket", "klass")[n // 4 % 2]
    return {
        "schema_version": 1,
        "loan_id": f"L-{n % 11:04d}",
        "borrower_id": f"bw-{n % 11 % 5}",
        "kind": kind,
        "from": "M0" if kind == "bucket" else "normal",
        "to": bucket if kind == "bucket" else klass,
        "on": f"2026-{month:02d}-{day:02d}",
        "event_id": f"e{n}" if n % 3 else None,
        "dpd": dpd,
        "bucket": bucket,
        "klass": klass,
        "event_time": f"2026-{month:02d}-{day:02d}T{(n * 3) % 24:02d}:30:00+00:00",
        "produced_at": f"2026-{month + 1:02d}-{day:02d}T00:00:03+00:00",
    }


def moves(first: int, count: int) -> list[dict[str, Any]]:
    """A transition for every fourth of ``count`` warnings, plus a redelivered copy of some."""
    bodies = [transition(n) for n in range(first, first + count, 4)]
    return bodies + [transition(n) for n in range(first, first + count, 12)]


def wave(first: int, count: int) -> list[dict[str, Any]]:
    """``count`` new warnings, every third resolved, plus a redelivered copy of every fifth."""
    bodies = [warning(n) for n in range(first, first + count)]
    bodies += [warning(n, "resolved") for n in range(first, first + count, 3)]
    bodies += [warning(n) for n in range(first, first + count, 5)]
    return bodies


@pytest.fixture
def private_clickhouse(
    stack: object, settings: Settings, tmp_path: Path
) -> Iterator[tuple[PrivateServer, Settings]]:
    tcp, http = free_port(), free_port()
    server = PrivateServer(
        ClickHouseService, settings, tmp_path, clickhouse_port=tcp, clickhouse_http_port=http
    )
    server.start()
    local = settings.model_copy(
        update={
            "clickhouse": settings.clickhouse.model_copy(
                update={
                    "host": "127.0.0.1",
                    "port": tcp,
                    "database": "failover",
                    "connect_timeout_s": 1.0,
                }
            )
        }
    )
    yield server, local
    server.stop()


@pytest.fixture
def private_redis(
    stack: object, settings: Settings, tmp_path: Path
) -> Iterator[tuple[PrivateServer, Settings]]:
    port = free_port()
    server = PrivateServer(RedisService, settings, tmp_path, redis_port=port)
    server.start()
    local = settings.model_copy(
        update={
            "redis": settings.redis.model_copy(
                update={"url": f"redis://127.0.0.1:{port}/0", "socket_timeout_s": 1.0}
            )
        }
    )
    yield server, local
    server.stop()


def start(writer: Any) -> threading.Thread:
    thread = threading.Thread(target=writer.run, name=f"{writer.sink}-writer")
    thread.start()
    return thread


@pytest.mark.timeout(120)
def test_clickhouse_killed_mid_stream_the_writer_catches_up_and_stores_every_warning_once(
    private_clickhouse: tuple[PrivateServer, Settings], topic: str, unique: str
) -> None:
    server, local = private_clickhouse
    migrate(local)
    group = f"test-{unique}"
    metrics = CountingMetrics()
    writer = ClickHouseWriter(
        local,
        topics={topic: "warnings"},
        group_id=group,
        max_rows=150,
        max_wait_s=0.3,
        backoff_initial_s=0.1,
        backoff_max_s=1.0,
        metrics=metrics,
    )
    reader = Client(**local.clickhouse.driver_kwargs())

    def stored() -> int:
        try:
            return int(reader.execute("SELECT count() FROM warnings FINAL")[0][0])
        except Exception:  # noqa: BLE001 - the server is away: nothing readable yet
            reader.disconnect()
            return -1

    produced: list[dict[str, Any]] = []
    thread = start(writer)
    try:
        first = wave(0, 300)
        produce(local, topic, first)
        produced += first
        distinct = {(b["warning_id"], b["status"]) for b in produced}
        wait_for(lambda: stored() == len(distinct), 30, "the first wave in ClickHouse")
        wait_for(lambda: metrics.counters["clickhouse.rows_total"] == len(first), 10, "commits")

        server.kill()  # mid-stream: the second wave arrives while ClickHouse is dead
        second = wave(300, 300)
        produce(local, topic, second)
        produced += second
        wait_for(lambda: metrics.gauges.get("clickhouse.degraded") == 1, 20, "degraded")
        wait_for(lambda: metrics.counters["clickhouse.retries_total"] >= 3, 20, "retries")
        assert committed(local, topic, group) == len(first)  # nothing while it is away
        assert thread.is_alive()

        server.start()  # same port, same data folder
        third = wave(600, 300)
        produce(local, topic, third)
        produced += third
        distinct = {(b["warning_id"], b["status"]) for b in produced}
        wait_for(lambda: stored() == len(distinct), 45, "every warning after the restart")
        wait_for(lambda: committed(local, topic, group) == len(produced), 20, "the commits")
    finally:
        writer.stop_event.set()
        thread.join(30)
        reader.disconnect()
    assert not thread.is_alive()
    assert metrics.gauges["clickhouse.degraded"] == 0
    assert metrics.counters["clickhouse.degraded_total"] == 1  # one outage, reported once
    assert metrics.counters["clickhouse.rows_total"] == len(produced)
    check = Client(**local.clickhouse.driver_kwargs())
    try:
        assert check.execute(
            "SELECT uniqExact(warning_id, status), count() FROM warnings FINAL"
        ) == [(len(distinct), len(distinct))]
        assert check.execute("SELECT count() FROM dead_letters") == [(0,)]
    finally:
        check.disconnect()


def view(client: redis.Redis, prefix: str) -> dict[str, Any]:
    """The lookup view under a prefix, with the prefix cut off (the stream left out)."""
    stream = (prefix + "stream:warnings").encode()
    return {
        key.decode()[len(prefix) :]: value
        for key, value in snapshot(client, prefix).items()
        if key != stream
    }


def cards(view: dict[str, Any]) -> list[dict[bytes, bytes]]:
    return [value for key, value in view.items() if key.startswith("card:")]


def reference_view(
    settings: Settings,
    topics: tuple[str, str],
    group: str,
    client: redis.Redis,
    prefix: str,
    total: int,
) -> dict[str, Any]:
    """The view a writer builds from the whole (warnings, transitions) topics, undisturbed."""
    writer = RedisWriter(
        settings,
        topics=[topics[0]],
        transitions_topics=[topics[1]],
        group_id=group,
        prefix=prefix,
        max_rows=500,
    )
    try:
        consumed = 0
        deadline = time.monotonic() + 30
        while consumed < total:
            assert time.monotonic() < deadline, f"reference writer read {consumed} of {total}"
            consumed += writer.drain_once().consumed
    finally:
        writer.close()
    return view(client, prefix)


@pytest.mark.timeout(120)
def test_redis_killed_the_writer_reports_degraded_once_and_rebuilds_the_view_when_it_returns(
    private_redis: tuple[PrivateServer, Settings],
    settings: Settings,
    redis_client: redis.Redis,
    redis_prefix: str,
    topic: str,
    transitions_topic: str,
    unique: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, local = private_redis
    caplog.set_level(logging.WARNING)
    metrics = CountingMetrics()
    writer = RedisWriter(
        local,
        topics=[topic],
        transitions_topics=[transitions_topic],
        group_id=f"test-{unique}",
        prefix="lw:",
        max_rows=100,
        backoff_initial_s=0.1,
        backoff_max_s=0.5,
        metrics=metrics,
    )
    private = redis.Redis.from_url(local.redis.url, socket_timeout=1.0)
    produced: list[dict[str, Any]] = []

    def send(first: int) -> list[dict[str, Any]]:
        """Warnings ``first``.. and their transitions; returns the warnings sent."""
        warnings, changes = wave(first, 120), moves(first, 120)
        produce(local, topic, warnings)
        produce(local, transitions_topic, changes)
        produced.extend(warnings + changes)
        return warnings

    thread = start(writer)
    try:
        send(0)
        wait_for(lambda: metrics.counters["redis.rows_total"] == len(produced), 30, "first wave")
        assert private.exists("lw:card:L-0000") and private.exists("lw:view")

        server.kill()  # Redis dies; it keeps no data (the stack's Redis has no persistence)
        send(120)
        wait_for(lambda: metrics.gauges.get("redis.degraded") == 1, 20, "degraded")
        wait_for(lambda: metrics.counters["redis.retries_total"] >= 5, 20, "several retries")
        assert thread.is_alive()  # retrying, not crashing

        server.start()  # same port, empty
        third = send(240)
        wait_for(lambda: metrics.counters["redis.rows_total"] == len(produced), 45, "catch-up")
    finally:
        writer.stop_event.set()
        thread.join(30)
    assert not thread.is_alive()
    assert metrics.gauges["redis.degraded"] == 0
    assert metrics.counters["redis.degraded_total"] == 1
    assert metrics.counters["redis.rebuilds_total"] == 1
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("sinks.")]
    assert sum("sink degraded" in m for m in logged) == 1, logged
    assert sum("sink recovered" in m for m in logged) == 1, logged

    # The rebuilt view is exactly what an undisturbed writer builds from the topic.
    expected = reference_view(
        settings,
        (topic, transitions_topic),
        f"test-{unique}-ref",
        redis_client,
        redis_prefix,
        len(produced),
    )
    try:
        got = view(private, "lw:")
        assert sorted(got) == sorted(expected)
        assert got == expected
        # Both topics decided some cards' state: the interleaving was put to the test.
        sources = {card[b"state_by"].split(b":")[0] for card in cards(got)}
        assert sources == {b"warning", b"transition"}
        for n in range(11):
            loan = f"L-{n:04d}"
            assert lookup(private, "lw:", loan) == lookup(redis_client, redis_prefix, loan)
        # Opens that reached Redis only after the restart were still pushed to the stream.
        pushed = {e[1][b"warning_id"].decode() for e in private.xrange("lw:stream:warnings")}
        assert {b["warning_id"] for b in third if b["status"] == "open"} <= pushed
    finally:
        private.close()
