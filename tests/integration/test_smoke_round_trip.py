"""The demo's round trip: every event comes back from Kafka, Redis and ClickHouse."""

from __future__ import annotations

from config import Settings
from config import stack as local_stack
from streams.smoke import run_smoke


def test_smoke_round_trip_returns_every_event_and_rejects_the_poison_message(
    settings: Settings, stack: list[local_stack.ServiceStatus]
) -> None:
    report = run_smoke(settings, loans=4)
    assert report.produced == 4 * 3 + 1
    assert report.consumed == report.produced
    assert report.decoded == 12
    assert len(report.rejected) == 1
    assert "amount" in report.rejected[0]
    assert report.redis_cards == 4
    assert report.clickhouse_rows == 12
    assert report.ok
