"""Which partition a key belongs to: Kafka's default partitioner, as Java clients place it.

Every loan's events must land on one partition, the one its ``loan_id`` hashes
to by murmur2: the default of the Java clients (core banking), of Kafka Streams,
and of aiokafka, under the worker. librdkafka clients (kcat, confluent-kafka)
hash with crc32 unless told ``partitioner=murmur2_random``, which our producers
are (`config.KafkaSettings.producer_config`). `key_partition` is the partition
such a producer, or Java's, picks for a key:

>>> key_partition(b"L-000001", 4)
3
>>> key_partition("贷款-2024-000123".encode(), 12)
0
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2

__all__ = ["KeyPartitioner", "key_partition", "murmur2_hash"]


def murmur2_hash(key: bytes) -> int:
    """Java's ``Utils.murmur2(key)`` as a signed 32-bit integer.

    >>> murmur2_hash(b"foobar")
    -790332482
    """
    unsigned = int(murmur2(key))
    return unsigned - (1 << 32) if unsigned >= 1 << 31 else unsigned


def key_partition(key: bytes, partitions: int) -> int:
    """The partition of ``key`` among ``partitions``: ``toPositive(murmur2(key)) % n``, as Java."""
    if partitions < 1:
        raise ValueError(f"a topic has at least one partition, got {partitions}")
    return (murmur2_hash(key) & 0x7FFFFFFF) % partitions


class KeyPartitioner:
    """`key_partition` with a bounded memo: murmur2 in Python costs ~8 us a key.

    The worker asks it for every event (`streams.worker.Worker`): an event found on
    another partition than its key's is forwarded there.
    """

    __slots__ = ("_memo", "_most", "partitions")

    def __init__(self, partitions: int, most: int = 100_000) -> None:
        self.partitions = partitions
        self._memo: dict[bytes, int] = {}
        self._most = most

    def of(self, key: bytes) -> int:
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= self._most:
                self._memo.clear()
            found = self._memo[key] = key_partition(key, self.partitions)
        return found
