"""What the worker and the sinks publish, as /metrics shows it: their Kafka progress on the
real broker, and the Redis view on a Redis that does not answer (the served view: test_api.py)."""

from __future__ import annotations

from typing import Any

import redis
from confluent_kafka import Consumer, Producer, TopicPartition

from api.pipeline_gauges import PipelineGauges, pipeline_groups
from api.view_gauges import ViewGauges
from config import Settings


def _samples(gauges: PipelineGauges | ViewGauges) -> dict[tuple[str, tuple[str, ...]], float]:
    return {
        (sample.name, tuple(sample.labels.values())): sample.value
        for family in gauges.collect()
        for sample in family.samples
    }


def _commit(settings: Settings, group: str, offsets: dict[tuple[str, int], int]) -> None:
    """Commit as a sink does once its store took a batch (no subscription needed)."""
    consumer = Consumer({**settings.kafka.confluent_config(), "group.id": group})
    try:
        consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
            asynchronous=False,
        )
    finally:
        consumer.close()


def test_end_offsets_committed_offsets_and_lag_per_group_and_partition(
    settings: Settings, topic: str, unique: str
) -> None:
    producer = Producer(settings.kafka.producer_config())
    for partition, count in ((0, 5), (1, 2)):
        for n in range(count):
            producer.produce(topic, value=b"{}", partition=partition, key=str(n).encode())
    assert producer.flush(30) == 0
    group = f"test-{unique}-redis"
    _commit(settings, group, {(topic, 0): 2, (topic, 1): 2})
    config: dict[str, Any] = settings.kafka.confluent_config()
    gauges = PipelineGauges(config, {"redis": group, "clickhouse": f"none-{unique}"}, [topic])
    found = _samples(gauges)
    assert found[("loanwatch_kafka_figures_up", ())] == 1
    assert found[("loanwatch_topic_end_offset", (topic, "0"))] == 5
    assert found[("loanwatch_topic_end_offset", (topic, "1"))] == 2
    assert found[("loanwatch_consumer_committed_offset", ("redis", topic, "0"))] == 2
    assert found[("loanwatch_consumer_lag", ("redis", topic, "0"))] == 3
    assert found[("loanwatch_consumer_lag", ("redis", topic, "1"))] == 0
    assert not any(labels and labels[0] == "clickhouse" for _, labels in found)  # never committed


def test_an_unreachable_kafka_is_up_0_within_the_timeout_not_a_failed_scrape(
    settings: Settings,
) -> None:
    config = {**settings.kafka.confluent_config(), "bootstrap.servers": "127.0.0.1:1"}
    gauges = PipelineGauges(config, {"worker": "loanwatch"}, ["postloan.events"], timeout_s=0.5)
    assert _samples(gauges) == {("loanwatch_kafka_figures_up", ()): 0}


def test_the_groups_are_the_worker_and_each_sink_by_app_id(settings: Settings) -> None:
    app = settings.app_id
    assert pipeline_groups(settings) == {
        "worker": app, "redis": f"{app}-redis", "clickhouse": f"{app}-clickhouse",
        "alerts": f"{app}-alerts", "webhooks": f"{app}-webhooks",
    }  # fmt: skip


def test_a_redis_that_does_not_answer_makes_the_view_up_0_and_shows_nothing_else(
    settings: Settings,
) -> None:
    client = redis.Redis.from_url("redis://127.0.0.1:1", **settings.redis.client_kwargs())
    assert _samples(ViewGauges(client, "test:")) == {("loanwatch_redis_view_up", ()): 0}
