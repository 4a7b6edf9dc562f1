"""Model metrics end to end on the real stack: worker -> Kafka -> ClickHouse and Redis.

A worker with the models on publishes each partition hub's figures at every
checkpoint; the ClickHouse writer keeps every record (and dead-letters a bad
one without stopping); the Redis writer keeps the latest per model and
partition, which `loanwatch model-metrics` prints.
"""

from __future__ import annotations

import io
import re
import time
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from clickhouse_driver import Client
from confluent_kafka import Consumer, Producer, TopicPartition

from config import Settings
from sinks.clickhouse import ClickHouseWriter, migrate
from sinks.redis import RedisWriter, latest_metrics, latest_metrics_command

_VERSION = re.compile(r"^pd-\w+\.(\d+)/intent\.(\d+)$")
_KEY = ("model", "partition", "model_version", "n")


def record(model: str, partition: int, n: int, at: str, **figures: Any) -> dict[str, Any]:
    """A model metrics message as the worker sends it (streams/model_metrics.py)."""
    body: dict[str, Any] = {
        "schema_version": 1,
        "model": model,
        "partition": partition,
        "model_version": f"pd-logistic.{n}/intent.0",
        "n": n,
        "roc_auc": None,
        "log_loss": None,
        "brier": None,
        "precision": None,
        "threshold": 0.35 if model == "pd" else None,
        "alerts": 0 if model == "pd" else None,
        "accuracy": None,
        "produced_at": at,
    }
    body.update(figures)
    return body


def produce(settings: Settings, topic: str, values: list[bytes]) -> None:
    """Keyed like the worker's records, so one hub's records keep their order."""
    producer = Producer(settings.kafka.producer_config())
    for value in values:
        try:
            body = orjson.loads(value)
            key = f"{body['model']}/p{body['partition']}".encode()
        except (orjson.JSONDecodeError, KeyError, TypeError):
            key = b"bad"
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def in_database(settings: Settings, clickhouse: Client) -> Settings:
    database = clickhouse.execute("SELECT currentDatabase()")[0][0]
    return settings.model_copy(
        update={"clickhouse": settings.clickhouse.model_copy(update={"database": database})}
    )


def drain_all(writer: Any, expected: int, timeout_s: float = 60) -> list[Any]:
    """Drain a writer until it consumed ``expected`` messages; every batch must commit."""
    results: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while sum(r.consumed for r in results) < expected:
            assert time.monotonic() < deadline, f"drained {results} of {expected}"
            results.append(writer.drain_once())
    finally:
        writer.close()
    assert all(r.committed for r in results if r.consumed), results
    return results


def metrics_query() -> str:
    text = (Path(__file__).parents[2] / "docs" / "analytics.md").read_text()
    queries = re.findall(r"```sql\n(.*?)```", text, re.DOTALL)
    (query,) = [q for q in queries if "model_metrics" in q and "$__" not in q]  # not Grafana's
    return query


GOOD = [
    record("pd", 0, 10, "2026-03-01T08:00:00+00:00", roc_auc=0.6, brier=0.2, log_loss=0.6),
    record("pd", 1, 5, "2026-03-01T09:00:00+00:00"),  # too few labels for any figure yet
    record(
        "pd",
        0,
        20,
        "2026-03-01T20:00:00.250+00:00",
        roc_auc=0.7,
        brier=0.15,
        precision=0.5,
        alerts=2,
    ),
    record("intent", 0, 3, "2026-03-02T10:00:00+00:00", accuracy=2 / 3),
    record("pd", 0, 30, "2026-03-02T10:00:00+00:00", roc_auc=0.75, brier=0.125, alerts=4),
]


def test_clickhouse_keeps_every_record_and_dead_letters_a_bad_one_without_stopping(
    settings: Settings, clickhouse: Client, topic: str, unique: str
) -> None:
    target = in_database(settings, clickhouse)
    migrate(target)
    bad = [
        b"{not json",
        orjson.dumps({k: v for k, v in GOOD[0].items() if k != "n"}),
        orjson.dumps(record("pd", -1, 1, "2026-03-01T08:00:00+00:00")),  # ClickHouse refuses
    ]
    values = [orjson.dumps(GOOD[0]), *bad, *(orjson.dumps(b) for b in GOOD[1:])]
    values.append(orjson.dumps(GOOD[2]))  # an at-least-once repeat
    produce(target, topic, values)
    writer = ClickHouseWriter(
        target, topics={topic: "model_metrics"}, group_id=f"test-{unique}", max_wait_s=0.5
    )
    results = drain_all(writer, len(values))

    assert sum(r.dead_letters for r in results) == len(bad)
    assert sum(r.inserted.get("model_metrics", 0) for r in results) == len(GOOD) + 1
    stored = clickhouse.execute(
        "SELECT model, partition, model_version, n, roc_auc, brier, precision, alerts, accuracy "
        "FROM model_metrics FINAL ORDER BY model, produced_at, partition"
    )
    assert stored == [
        ("intent", 0, "pd-logistic.3/intent.0", 3, None, None, None, None, 2 / 3),
        ("pd", 0, "pd-logistic.10/intent.0", 10, 0.6, 0.2, None, 0, None),
        ("pd", 1, "pd-logistic.5/intent.0", 5, None, None, None, 0, None),
        ("pd", 0, "pd-logistic.20/intent.0", 20, 0.7, 0.15, 0.5, 2, None),
        ("pd", 0, "pd-logistic.30/intent.0", 30, 0.75, 0.125, None, 4, None),
    ]
    letters = dict(
        clickhouse.execute(
            "SELECT raw, reason FROM dead_letters FINAL WHERE target = 'model_metrics'"
        )
    )
    assert set(letters) == {v.decode() for v in bad}
    assert letters[bad[0].decode()].startswith("not JSON")
    assert letters[bad[1].decode()] == "missing field 'n'"
    assert "out of range" in letters[bad[2].decode()] or "UInt32" in letters[bad[2].decode()]

    # The documented query: the day's last figures per partition.
    assert clickhouse.execute(metrics_query()) == [
        (date(2026, 3, 1), 0, 20, 0.7, 0.15),
        (date(2026, 3, 1), 1, 5, None, None),
        (date(2026, 3, 2), 0, 30, 0.75, 0.125),
    ]


def test_redis_keeps_the_latest_record_per_model_and_partition_and_skips_a_bad_one(
    settings: Settings, redis_client: redis.Redis, redis_prefix: str, topic: str, unique: str
) -> None:
    bad = orjson.dumps(record("pd", 2, 7, "2026-03-01T08:00:00+00:00", roc_auc="high"))
    values = [orjson.dumps(GOOD[0]), bad, *(orjson.dumps(b) for b in GOOD[1:])]
    produce(settings, topic, values)
    writer = RedisWriter(
        settings, topics=[], metrics_topics=[topic], group_id=f"test-{unique}", prefix=redis_prefix
    )
    results = drain_all(writer, len(values))
    assert sum(r.skipped for r in results) == 1
    assert sum(r.metrics for r in results) == len(GOOD)

    latest = latest_metrics(redis_client, redis_prefix)
    assert latest == {"intent": {0: GOOD[3]}, "pd": {0: GOOD[4], 1: GOOD[1]}}
    assert latest_metrics(redis_client, redis_prefix, "intent") == {"intent": {0: GOOD[3]}}
    assert set(redis_client.hkeys(redis_prefix + "model_metrics")) == {
        b"pd/p0",
        b"pd/p1",
        b"intent/p0",
    }

    local = settings.model_copy(
        update={"redis": settings.redis.model_copy(update={"key_prefix": redis_prefix})}
    )
    out = io.StringIO()
    assert latest_metrics_command(local, "pd", out=out) == 0
    assert orjson.loads(out.getvalue()) == {"pd": {"0": GOOD[4], "1": GOOD[1]}}
    assert latest_metrics_command(local, "anomaly", out=io.StringIO()) == 1


def high_watermarks(settings: Settings, topic: str, partitions: int) -> dict[int, int]:
    consumer = Consumer({**settings.kafka.confluent_config(), "group.id": "test-watermarks"})
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
    finally:
        consumer.close()


@pytest.mark.timeout(300)
def test_worker_publishes_metrics_at_each_checkpoint_and_both_sinks_store_them(
    harness: Any,
    tmp_path: Path,
    clickhouse: Client,
    redis_client: redis.Redis,
    redis_prefix: str,
    unique: str,
) -> None:
    steps = 50
    events = harness.book(loans=20, months=6, seed=5)
    harness.start(
        "worker",
        tmp_path / "data",
        LOANWATCH_WORKER__MODELS="true",
        LOANWATCH_WORKER__MODEL_CHECKPOINT_STEPS=str(steps),
        LOANWATCH_WORKER__MODEL_WARMUP_LABELS="20",
        # The wall clock's first run is an hour away: no ticks, only the events step.
        # (The event clock would tick loans between events, adding steps.)
        LOANWATCH_WORKER__CLOCK="wall",
    )
    local = harness.local
    topic = local.topics.model_metrics
    harness.produce(events)
    harness.wait_committed(len(events), timeout_s=180, alive=("worker",))

    # Every event is one step of its partition (no ticks: see above),
    # so each partition checkpointed once per `steps` of its events, three records each.
    per_partition = high_watermarks(local, local.topics.events, harness.partitions)
    assert sum(per_partition.values()) == len(events)
    collector = harness.collector(topics=[topic])
    expected = 3 * sum(n // steps for n in per_partition.values())
    harness.wait(
        f"{expected} model metrics records",
        lambda c: len(c.seen[topic]) >= expected,
        collector,
        alive=("worker",),
    )
    collector.drain(2)
    records = collector.seen[topic]
    assert len(records) == expected, records[-4:]
    for p, count in per_partition.items():
        for model in ("pd", "pd_current", "intent"):
            # One hub's records share a key, hence a partition of the topic: in order.
            mine = [r["n"] for r in records if (r["partition"], r["model"]) == (p, model)]
            assert len(mine) == count // steps, (p, model, mine)
            assert mine == sorted(mine), mine  # figures since the hub started: n only grows
    for r in records:
        labels = _VERSION.match(r["model_version"])
        assert labels, r
        if r["model"] == "pd_current":  # the labelled snapshots scored at DPD 0: some
            assert r["n"] <= int(labels.group(1)), r
        else:
            assert r["n"] == int(labels.group(1) if r["model"] == "pd" else labels.group(2)), r
        assert r["threshold"] == (None if r["model"] == "intent" else 0.35)
    learned = [r for r in records if r["model"] == "pd" and r["n"] > 0]
    assert learned, "no partition's PD learned a label"
    assert all(r["brier"] is not None and 0 <= r["brier"] <= 1 for r in learned)
    # Each figure is null until it means something, and only its own model has it.
    for r in records:
        labelled = r["n"] > 0
        assert (r["accuracy"] is not None) == (r["model"] == "intent" and labelled), r
        assert (r["log_loss"] is not None) == (r["model"] != "intent" and labelled), r

    # The sinks, each in its own consumer group, reading what the worker wrote.
    target = in_database(local, clickhouse)
    migrate(target)
    drain_all(
        ClickHouseWriter(target, topics={topic: "model_metrics"}, group_id=f"test-{unique}-ch"),
        expected,
    )
    stored = clickhouse.execute(
        "SELECT model, partition, model_version, n FROM model_metrics FINAL"
    )
    assert set(stored) == {tuple(r[k] for k in _KEY) for r in records}
    drain_all(
        RedisWriter(
            local,
            topics=[],
            metrics_topics=[topic],
            group_id=f"test-{unique}-redis",
            prefix=redis_prefix,
        ),
        expected,
    )
    newest = {(r["model"], r["partition"]): r for r in records}  # topic order per hub
    assert latest_metrics(redis_client, redis_prefix) == {
        model: {p: r for (m, p), r in sorted(newest.items()) if m == model}
        for model in ("intent", "pd", "pd_current")
    }
