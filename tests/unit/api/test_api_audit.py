"""The audit trail's buffer: rows wait while ClickHouse is away, bounded, then go in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from api.audit import AuditRow, AuditTrail


def row(n: int) -> AuditRow:
    at = datetime(2026, 3, 5, tzinfo=UTC)
    return AuditRow(f"r{n}", at, "key:k", "crm", "integration", "GET", "/v1/top-risk", "",
                    200, "allowed", "", "127.0.0.1:5", 1.0)  # fmt: skip


class Flaky:
    def __init__(self) -> None:
        self.up = False
        self.got: list[str] = []

    def __call__(self, rows: Sequence[AuditRow]) -> None:
        if not self.up:
            raise ConnectionError("Connection refused")
        self.got += [r.request_id for r in rows]


def test_rows_wait_while_clickhouse_is_away_and_go_in_one_insert_when_it_is_back() -> None:
    insert = Flaky()
    trail = AuditTrail(insert, limit=100)
    for n in range(3):
        trail.record(row(n))
    assert trail.flush() == 0 and trail.failing
    insert.up = True
    assert trail.flush() == 3 and not trail.failing
    assert insert.got == ["r0", "r1", "r2"] and trail.flush() == 0


def test_past_the_buffer_the_oldest_rows_are_dropped_and_counted() -> None:
    dropped: list[int] = []
    insert = Flaky()
    trail = AuditTrail(insert, limit=2, on_drop=dropped.append)
    for n in range(5):
        trail.record(row(n))
    insert.up = True
    trail.flush()
    assert insert.got == ["r3", "r4"] and sum(dropped) == 3


def test_stop_makes_a_last_flush() -> None:
    insert = Flaky()
    insert.up = True
    trail = AuditTrail(insert, flush_s=60)
    trail.start()
    trail.record(row(1))
    trail.stop()
    assert insert.got == ["r1"]
