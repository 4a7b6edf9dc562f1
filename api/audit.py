"""The audit trail: one row per request, allowed or denied, into ClickHouse ``api_audit``.

Requests only append to a bounded in-memory buffer (no I/O on the request's path);
a thread inserts what gathered every ``audit_flush_s`` seconds, in one insert, and
once more at shutdown. While ClickHouse cannot take them the rows wait, up to
``audit_buffer``; past that the oldest are dropped and counted, and the outage is
logged once at its start and once at its end. A crash loses at most the last
interval's rows.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter

__all__ = ["AuditRow", "AuditTrail", "clickhouse_insert"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One request as the audit table keeps it (columns in the table's order)."""

    request_id: str
    at: datetime
    subject: str
    name: str
    role: str
    method: str
    endpoint: str
    target: str
    status: int
    result: str  # allowed | denied | refused | failed
    reason: str
    client: str
    latency_ms: float


COLUMNS = tuple(f.name for f in fields(AuditRow))
_VALUES = attrgetter(*COLUMNS)
"""A row's values in column order: ``dataclasses.astuple`` deep-copies every field and
cost 15 us a row, 2 % of a card request's CPU, in the process that serves requests."""

Insert = Callable[[Sequence[AuditRow]], None]


def clickhouse_insert(client: object, database: str) -> Insert:
    """An `Insert` into ``database.api_audit`` through a clickhouse-driver ``Client``."""
    sql = f"INSERT INTO {database}.api_audit ({', '.join(COLUMNS)}) VALUES"

    def insert(rows: Sequence[AuditRow]) -> None:
        client.execute(sql, [_VALUES(row) for row in rows])  # type: ignore[attr-defined]

    return insert


class AuditTrail:
    """Buffers rows and inserts them in batches from its own thread (`start`, `stop`)."""

    def __init__(
        self,
        insert: Insert,
        *,
        flush_s: float = 1.0,
        limit: int = 100_000,
        on_drop: Callable[[int], None] = lambda n: None,
    ) -> None:
        self.insert = insert
        self.flush_s = flush_s
        self.on_drop = on_drop
        self.rows: deque[AuditRow] = deque()
        self.limit = limit
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.failing = False
        self.thread: threading.Thread | None = None

    def record(self, row: AuditRow) -> None:
        with self.lock:
            self.rows.append(row)
            dropped = 0
            while len(self.rows) > self.limit:
                self.rows.popleft()
                dropped += 1
        if dropped:
            self.on_drop(dropped)

    def flush(self) -> int:
        """Insert what waits; returns how many went in (0 when none, or ClickHouse failed)."""
        with self.lock:
            batch = list(self.rows)
        if not batch:
            return 0
        try:
            self.insert(batch)
        except Exception as exc:  # noqa: BLE001 - any driver or server error: keep, retry later
            if not self.failing:
                log.warning("api audit: ClickHouse unavailable (%s); rows kept in memory", exc)
                self.failing = True
            return 0
        if self.failing:
            log.warning("api audit: ClickHouse back; %d rows written", len(batch))
            self.failing = False
        with self.lock:
            for _ in range(min(len(batch), len(self.rows))):
                self.rows.popleft()
        return len(batch)

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="api-audit", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop the thread and make a last flush."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(10)
        self.flush()

    def _run(self) -> None:
        while not self.stopping.wait(self.flush_s):
            self.flush()
