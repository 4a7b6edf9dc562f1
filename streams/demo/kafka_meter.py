"""The demo's Kafka meter: the warnings topic read from the start, progress read from offsets.

The meter is the demo's only Kafka reader. It reads the run's warnings topic
without a consumer group of its own committing anything, and measures the
worker's progress from the offsets the worker's group has committed, so it
never slows the worker or changes what it reads. It also deletes the run's
topics at the end.
"""

from __future__ import annotations

import contextlib

from config import Settings
from streams.demo.grading import WarningTally
from streams.demo.live_view import Progress
from streams.topics import ticks_topic

__all__ = ["KafkaMeter"]


class KafkaMeter:
    """Reads the warnings topic from the start, and the worker's progress from offsets."""

    def __init__(self, demo: Settings) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
        from confluent_kafka.admin import AdminClient

        self._tp = TopicPartition
        self.demo = demo
        self.partitions = demo.topics.partitions
        self.consumer = Consumer(
            {
                **demo.kafka.confluent_config(),
                "group.id": f"{demo.app_id}-viewer",
                "enable.auto.commit": False,
            }
        )
        self.consumer.assign(
            [
                TopicPartition(demo.topics.warnings, p, OFFSET_BEGINNING)
                for p in range(self.partitions)
            ]
        )
        admin_conf: dict[str, str | int | float | bool] = {**demo.kafka.confluent_config()}
        self.admin = AdminClient(admin_conf)

    def poll(self, tally: WarningTally, seconds: float) -> int:
        """Add the warnings that arrive within ``seconds`` to ``tally``; how many came."""
        got = 0
        for msg in self.consumer.consume(num_messages=1_000, timeout=seconds):
            if msg.error() is None:
                tally.add(msg.value())
                got += 1
        return got

    def _ends(self, topic: str) -> list[int]:
        return [
            self.consumer.get_watermark_offsets(self._tp(topic, p), timeout=5)[1]
            for p in range(self.partitions)
        ]

    def measure(self, progress: Progress) -> None:
        """Events in the topic, and events/ticks the worker has committed as judged."""
        from confluent_kafka import ConsumerGroupTopicPartitions

        events, ticks = self.demo.topics.events, ticks_topic(self.demo)
        ends = self._ends(events)
        progress.events_in_topic = sum(ends)
        wanted = [self._tp(t, p) for t in (events, ticks) for p in range(self.partitions)]
        try:
            futures = self.admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(self.demo.app_id, wanted)], request_timeout=5
            )
            answer = futures[self.demo.app_id].result(timeout=5)
        except Exception:  # the group may not exist yet: progress stays unknown
            progress.lag = None
            return
        done = {(tp.topic, tp.partition): max(tp.offset, 0) for tp in answer.topic_partitions or []}
        progress.events_judged = sum(done.get((events, p), 0) for p in range(self.partitions))
        progress.ticks_judged = sum(done.get((ticks, p), 0) for p in range(self.partitions))
        # Only the events count: with the event clock frozen at the last event's day,
        # the worker may keep ticking a loan due that day, so the ticks never "end".
        progress.lag = sum(max(0, end - done.get((events, p), 0)) for p, end in enumerate(ends))

    def close(self) -> None:
        """Close the consumer (the admin client needs no closing)."""
        self.consumer.close()

    def delete_run_topics(self) -> list[str]:
        """Delete the run's topics (best effort); the names it asked to delete."""
        prefix = self.demo.topics.events.rsplit(".", 1)[0] + "."
        names = [
            name
            for name in self.admin.list_topics(timeout=10).topics
            if name.startswith(prefix) or name.startswith(self.demo.app_id)
        ]
        if names:
            for future in self.admin.delete_topics(names, request_timeout=30).values():
                with contextlib.suppress(Exception):  # best effort: a leftover is harmless
                    future.result(timeout=30)
        return names
