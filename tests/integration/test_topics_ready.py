"""`ensure_topics` returns only once every new topic's partitions are usable."""

from __future__ import annotations

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from config import Settings
from config.settings import TopicSettings
from streams.topics import ensure_topics, ticks_topic


def test_every_partition_of_every_created_topic_takes_a_message_at_once(
    stack: object, settings: Settings, kafka_admin: AdminClient, unique: str
) -> None:
    names = {name: f"ready.{unique}.{name}" for name in TopicSettings.names()}
    local = settings.model_copy(
        update={
            "app_id": f"ready-{unique}",
            "topics": settings.topics.model_copy(update={**names, "partitions": 6}),
        }
    )
    created = ensure_topics(local)
    wanted = set(names.values()) | {ticks_topic(local)}
    try:
        assert set(created) == wanted
        metadata = kafka_admin.list_topics(timeout=10).topics
        assert len(metadata[names["events"]].partitions) == 6
        assert len(metadata[names["rules"]].partitions) == 1
        # A fresh producer, explicit partitions: "Unknown partition" would fail delivery.
        failures: list[str] = []
        producer = Producer(local.kafka.confluent_config())
        for name in wanted:
            for partition in metadata[name].partitions:
                producer.produce(
                    name,
                    b"x",
                    key=b"k",  # the rules topic is compacted: a record needs a key
                    partition=partition,
                    on_delivery=lambda err, _msg: failures.append(str(err)) if err else None,
                )
        assert producer.flush(30) == 0
        assert failures == []
        assert ensure_topics(local) == []  # existing topics are left alone
    finally:
        for future in kafka_admin.delete_topics(sorted(wanted)).values():
            future.result(timeout=30)
