"""Alert state changes into ClickHouse ``alert_events``, from the Redis events outbox.

The service appends events to Redis in the same transaction as the state change
that caused them; this writer moves them in batches (one native insert) and trims
the outbox only after ClickHouse took the batch. ClickHouse down delays analysts,
never alerting: the events wait in Redis. A replayed batch collapses by
``event_id`` (ReplacingMergeTree; read with ``FINAL``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from sinks.alerts.model import AlertEvent
from sinks.alerts.store import AlertStore

__all__ = ["COLUMNS", "EventHistory", "row_of"]

log = logging.getLogger(__name__)

COLUMNS = (
    "event_id", "kind", "at", "warning_id", "group_ref", "notification_id", "receiver",
    "actor", "level", "loan_id", "rule_id", "owner_team", "severity", "detail",
)  # fmt: skip


def row_of(event: AlertEvent) -> tuple[Any, ...]:
    return (
        event.event_id,
        event.kind,
        event.at.astimezone(UTC),
        event.warning_id,
        event.group_ref,
        event.notification_id,
        event.receiver,
        event.actor,
        min(max(event.level, 0), 255),
        event.loan_id,
        event.rule,
        event.team,
        event.severity,
        event.detail,
    )


class EventHistory:
    """Moves up to ``batch`` events per `flush` from Redis to ClickHouse."""

    def __init__(self, store: AlertStore, client: Any, database: str, batch: int = 5_000) -> None:
        self.store = store
        self.client = client
        self.database = database
        self.batch = batch
        self.failing = False

    def insert(self, events: Sequence[AlertEvent]) -> None:
        self.client.execute(
            f"INSERT INTO {self.database}.alert_events ({', '.join(COLUMNS)}) VALUES",
            [row_of(e) for e in events],
        )

    def flush(self) -> int:
        """Insert one batch; returns how many went in (0 when none waited or CH is down)."""
        events = self.store.peek_events(self.batch)
        if not events:
            return 0
        try:
            self.insert(events)
        except Exception as exc:  # noqa: BLE001 - any driver/server error: keep and retry later
            if not self.failing:
                log.warning("alert history: ClickHouse unavailable (%s); events kept", exc)
                self.failing = True
            return 0
        if self.failing:
            log.warning("alert history: ClickHouse back")
            self.failing = False
        self.store.drop_events(len(events))
        return len(events)

    def close(self) -> None:
        disconnect = getattr(self.client, "disconnect", None)
        if disconnect is not None:
            disconnect()
