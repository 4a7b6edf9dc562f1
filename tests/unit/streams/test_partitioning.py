"""Kafka's default partitioner in Python equals the Java client's."""

from __future__ import annotations

import pytest

from streams.partitioning import key_partition, murmur2_hash

# Computed with kafka-clients 3.9.1 (org.apache.kafka.common.utils.Utils.murmur2 and
# toPositive(...) % n); the first four are also the vectors of Kafka's own UtilsTest.
JAVA = [
    ("21", -973932308, 0, 0),
    ("foobar", -790332482, 2, 6),
    ("a-little-bit-long-string", -985981536, 0, 8),
    ("abc", 479470107, 3, 3),
    ("L-000001", 1294498059, 3, 3),
    ("LN-2026-000042", 2076739985, 1, 5),
    ("贷款-2024-000123", -1520981648, 0, 0),
]


@pytest.mark.parametrize(("key", "hashed", "of_4", "of_12"), JAVA)
def test_a_key_goes_to_the_partition_the_java_client_picks(
    key: str, hashed: int, of_4: int, of_12: int
) -> None:
    raw = key.encode()
    assert murmur2_hash(raw) == hashed
    assert key_partition(raw, 4) == of_4
    assert key_partition(raw, 12) == of_12


def test_a_topic_without_partitions_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one partition"):
        key_partition(b"L-1", 0)
