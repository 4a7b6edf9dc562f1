"""The worker's and the sinks' progress on ``GET /metrics``, read from Kafka.

The worker (consumer group ``<app_id>``) and each sink (``<app_id>-redis``,
``-clickhouse``, ``-alerts``, ``-webhooks``) commit to Kafka the offsets they are done
with, and what the worker makes are topics: events in, dead letters, warnings,
transitions, actions, model metrics. Those are the figures that leave their
processes today. The counters they keep in memory (the worker's events, ticks and
dead letters, the sinks' `sinks.metrics.CountingMetrics`) are published nowhere, so
an API process cannot show them; it shows what Kafka holds instead, without
importing either:

- ``loanwatch_topic_end_offset{topic, partition}``: each pipeline topic's end
  (read committed), i.e. how much was ever written there: the dead letters topic's
  is the worker's dead-letter count as Kafka keeps it;
- ``loanwatch_consumer_committed_offset{group, topic, partition}`` and
  ``loanwatch_consumer_lag{group, topic, partition}`` (end minus committed): how far
  each of the worker and the sinks is behind, per partition it has committed on;
- ``loanwatch_kafka_figures_up``: 0 when Kafka did not answer within the timeout
  (the scrape still succeeds, with the other figures).

A scrape costs three kinds of admin requests (topic metadata, one committed-offsets
request per group, in parallel, and one end-offsets request for every partition),
each bounded by ``timeout_s``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from prometheus_client.core import GaugeMetricFamily

from api.published import Published
from config import Settings
from config.outage import kafka_client_hooks

__all__ = ["PipelineGauges", "pipeline_groups"]

_Partition = tuple[str, int]
_Found = tuple[dict[str, dict[_Partition, int]], dict[_Partition, int]]


def pipeline_groups(settings: Settings) -> dict[str, str]:
    """Which consumer group each part of the pipeline commits as: label -> group id."""
    app = settings.app_id
    return {
        "worker": app,
        "redis": f"{app}-redis",
        "clickhouse": f"{app}-clickhouse",
        "alerts": f"{app}-alerts",
        "webhooks": f"{app}-webhooks",
    }


class PipelineGauges(Published[_Found]):
    """A collector over Kafka: ``topics`` whose ends to show, ``groups`` whose offsets."""

    up_name = "loanwatch_kafka_figures_up"
    up_help = "1 when the pipeline's Kafka offsets could be read."
    # errors: any client or broker failure (KafkaException, a timed-out future)

    def __init__(
        self,
        kafka_config: Mapping[str, Any],
        groups: Mapping[str, str],
        topics: Sequence[str],
        timeout_s: float = 2.0,
    ) -> None:
        self.kafka_config = dict(kafka_config)
        self.groups = dict(groups)
        self.topics = list(topics)
        self.timeout_s = timeout_s
        self._admin: Any = None

    @classmethod
    def of(cls, settings: Settings) -> PipelineGauges:
        """The worker's and the sinks' groups and the pipeline's topics, from the settings."""
        t = settings.topics
        topics = [t.events, t.dlq, t.warnings, t.transitions, t.actions, t.model_metrics]
        kafka = settings.kafka
        config = {**kafka.confluent_config(), **kafka_client_hooks(kafka.bootstrap_servers)}
        return cls(config, pipeline_groups(settings), topics)

    def read(self) -> _Found:
        """Each group's committed offsets, and the ends of those partitions and the topics'."""
        committed = self._committed()
        wanted = set(self._partitions()) | {p for c in committed.values() for p in c}
        return committed, self._ends(wanted)

    def families(self, found: _Found) -> Iterator[GaugeMetricFamily]:
        committed, ends = found
        end = GaugeMetricFamily(
            "loanwatch_topic_end_offset",
            "A pipeline topic's end offset (read committed): how much was ever written.",
            labels=("topic", "partition"),
        )
        for (topic, partition), offset in sorted(ends.items()):
            if topic in self.topics:
                end.add_metric([topic, str(partition)], offset)
        labels = ("group", "topic", "partition")
        done = GaugeMetricFamily(
            "loanwatch_consumer_committed_offset",
            "The offset a part of the pipeline (worker, sinks) committed as done.",
            labels=labels,
        )
        lag = GaugeMetricFamily(
            "loanwatch_consumer_lag",
            "Messages a part of the pipeline is behind: end offset minus committed offset.",
            labels=labels,
        )
        for group, offsets in sorted(committed.items()):
            for (topic, partition), offset in sorted(offsets.items()):
                names = [group, topic, str(partition)]
                done.add_metric(names, offset)
                if (topic, partition) in ends:
                    lag.add_metric(names, max(0, ends[(topic, partition)] - offset))
        yield from (family for family in (end, done, lag) if family.samples)

    def _client(self) -> Any:
        if self._admin is None:
            from confluent_kafka.admin import AdminClient

            self._admin = AdminClient(self.kafka_config)
        return self._admin

    def _partitions(self) -> list[_Partition]:
        found = self._client().list_topics(timeout=self.timeout_s).topics
        return [
            (topic, partition)
            for topic in self.topics
            if topic in found and found[topic].error is None
            for partition in found[topic].partitions
        ]

    def _committed(self) -> dict[str, dict[_Partition, int]]:
        """Each group's committed offsets (groups that committed nothing are left out)."""
        from confluent_kafka import ConsumerGroupTopicPartitions

        admin = self._client()
        futures = {
            label: admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group)], request_timeout=self.timeout_s
            )[group]
            for label, group in self.groups.items()
        }
        out: dict[str, dict[_Partition, int]] = {}
        for label, future in futures.items():
            offsets = {
                (tp.topic, tp.partition): tp.offset
                for tp in future.result().topic_partitions or []
                if tp.offset >= 0 and tp.error is None
            }
            if offsets:
                out[label] = offsets
        return out

    def _ends(self, partitions: set[_Partition]) -> dict[_Partition, int]:
        if not partitions:
            return {}
        from confluent_kafka import IsolationLevel, TopicPartition
        from confluent_kafka.admin._listoffsets import OffsetSpec  # where it is defined

        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        futures = self._client().list_offsets(
            {TopicPartition(t, p): latest for t, p in partitions},
            isolation_level=IsolationLevel.READ_COMMITTED,
            request_timeout=self.timeout_s,
        )
        return {(tp.topic, tp.partition): f.result().offset for tp, f in futures.items()}
