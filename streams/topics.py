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
from collections.abc import Callable

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # where it is defined; admin re-exports it

from config import ServiceUnavailable, Settings
from config.outage import Outage, Reports, kafka_client_hooks, short_reason

__all__ = ["admin_client", "ensure_topics", "reach_kafka", "ticks_topic", "wait_for_kafka"]

_BACKOFF_MAX_S = 30.0


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
    admin = admin_client(settings)
    existing = reach_kafka(settings, admin)
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


def admin_client(settings: Settings, outage: Reports | None = None) -> AdminClient:
    """An admin client whose log lines and connection errors go through our logging."""
    kafka = settings.kafka
    return AdminClient(
        {**kafka.confluent_config(), **kafka_client_hooks(kafka.bootstrap_servers, outage)}
    )


def reach_kafka(settings: Settings, admin: AdminClient | None = None) -> set[str]:
    """The cluster's topic names, or `ServiceUnavailable` after ``kafka.connect_timeout_s``."""
    admin = admin or admin_client(settings)
    try:
        return set(admin.list_topics(timeout=settings.kafka.connect_timeout_s).topics)
    except KafkaException as exc:
        error = exc.args[0]
        reason = (
            f"no broker answered within {settings.kafka.connect_timeout_s:g} s"
            if error.code() in (KafkaError._TRANSPORT, KafkaError._TIMED_OUT)
            else short_reason(error.str())
        )
        raise ServiceUnavailable("Kafka", settings.kafka.bootstrap_servers, reason) from exc


def wait_for_kafka(
    settings: Settings, outage: Outage | None = None, sleep: Callable[[float], None] = time.sleep
) -> None:
    """Block until the brokers answer, retrying with backoff; a long-running command's start.

    The outage is reported once, then once a minute, then once when Kafka answers.
    """
    outage = outage or Outage("Kafka", settings.kafka.bootstrap_servers)
    admin = admin_client(settings, outage)
    delay = 1.0
    while True:
        try:
            reach_kafka(settings, admin)
        except ServiceUnavailable as exc:
            outage.failed(exc.reason)
            admin.poll(0)  # serve the queued log lines and error callbacks
            sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX_S)
            continue
        outage.recovered()
        return


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
