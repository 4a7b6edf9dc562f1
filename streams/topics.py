"""Create the topics Loanwatch reads and writes, with the configured partitions.

Run at worker start so a fresh cluster works at once; an existing topic is left
as it is (partition counts are never changed behind an operator's back).

A created topic is only returned once the broker's metadata lists it with all
its partitions and their leaders: a producer that asks for a partition of a
topic created a moment ago can otherwise fail with "Unknown partition" (a
freshly started broker was seen to do so in the demo).
"""

from __future__ import annotations

import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # where it is defined; admin re-exports it

from config import Settings

__all__ = ["ensure_topics", "ticks_topic"]


def ticks_topic(settings: Settings) -> str:
    """The worker's own clock topic: co-partitioned with the events topic."""
    return f"{settings.app_id}-ticks"


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> list[str]:
    """Create missing topics; return the names that were created."""
    topics = settings.topics
    wanted: dict[str, dict[str, str]] = {
        topics.events: {},
        topics.dlq: {"retention.ms": str(30 * 24 * 3600 * 1000)},
        topics.warnings: {},
        topics.transitions: {},
        topics.actions: {},
        topics.model_metrics: {},
        topics.rules: {"cleanup.policy": "compact"},
        ticks_topic(settings): {"retention.ms": str(7 * 24 * 3600 * 1000)},
    }
    conf: dict[str, str | int | float | bool] = {**settings.kafka.confluent_config()}
    admin = AdminClient(conf)
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    new = [
        NewTopic(name, num_partitions=1 if name == topics.rules else topics.partitions, config=conf)
        for name, conf in wanted.items()
        if name not in existing
    ]
    if not new:
        return []
    created: list[str] = []
    for name, future in admin.create_topics(new, request_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    _await_partitions(admin, {t.topic: t.num_partitions for t in new}, timeout_s)
    return created


def _await_partitions(admin: AdminClient, wanted: dict[str, int], timeout_s: float) -> None:
    """Wait until the metadata shows every topic in ``wanted`` with its partitions led."""
    deadline = time.monotonic() + timeout_s
    while True:
        topics = admin.list_topics(timeout=timeout_s).topics
        missing = [
            name
            for name, count in wanted.items()
            if name not in topics
            or topics[name].error is not None
            or len(topics[name].partitions) < count
            or any(p.leader < 0 for p in topics[name].partitions.values())
        ]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics not ready after {timeout_s:.0f} s: {', '.join(missing)}")
        time.sleep(0.1)
