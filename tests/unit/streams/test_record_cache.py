"""The worker's decoded-record cache: used only while the table holds the bytes it wrote."""

from __future__ import annotations

from streams.record_cache import RecordCache


def _cache(capacity: int) -> tuple[RecordCache[str], list[bytes]]:
    decoded: list[bytes] = []

    def decode(raw: bytes) -> str:
        decoded.append(raw)
        return raw.decode()

    return RecordCache(capacity, decode), decoded


def test_cached_record_is_returned_while_table_holds_the_written_bytes() -> None:
    cache, decoded = _cache(4)
    cache.put(b"loan-1", b"v1", "record-1")
    assert cache.get(b"loan-1", b"v1") == "record-1"
    assert decoded == []
    assert (cache.hits, cache.misses) == (1, 0)


def test_bytes_changed_behind_the_cache_are_decoded_and_the_stale_entry_dropped() -> None:
    cache, decoded = _cache(4)
    cache.put(b"loan-1", b"v1", "record-1")
    assert cache.get(b"loan-1", b"v2") == "v2"
    assert decoded == [b"v2"]
    assert len(cache) == 0


def test_least_recently_used_loan_is_evicted_at_capacity() -> None:
    cache, _ = _cache(2)
    cache.put(b"a", b"1", "A")
    cache.put(b"b", b"1", "B")
    cache.get(b"a", b"1")  # a is now the most recently used
    cache.put(b"c", b"1", "C")
    assert cache.get(b"b", b"1") == "1"  # evicted: decoded from the bytes
    assert cache.get(b"a", b"1") == "A"


def test_dropped_loan_is_decoded_from_the_table_next_time() -> None:
    cache, decoded = _cache(2)
    cache.put(b"a", b"1", "half-stepped")
    cache.drop(b"a")
    assert cache.get(b"a", b"1") == "1"
    assert decoded == [b"1"]


def test_capacity_zero_keeps_nothing() -> None:
    cache, decoded = _cache(0)
    cache.put(b"a", b"1", "A")
    assert cache.get(b"a", b"1") == "1"
    assert len(cache) == 0 and decoded == [b"1"]


def test_taken_record_leaves_the_cache_until_it_is_put_back() -> None:
    cache, decoded = _cache(4)
    cache.put(b"a", b"1", "A")
    assert cache.take(b"a", b"1") == "A"
    assert len(cache) == 0  # a failure before `put` leaves no half-changed record
    assert cache.take(b"a", b"1") == "1" and decoded == [b"1"]
