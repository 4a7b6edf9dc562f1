"""Kafka outputs into ClickHouse, with offsets committed only after ClickHouse has the rows.

The writer is its own consumer group (``<app_id>-clickhouse``), outside the risk
agents' path: ClickHouse being slow or down delays analysts, never judging. Besides
the outputs' own tables it fills ``loans`` and ``note_labels`` from the events
topic's disbursements and collectors' labels, ``model_scores`` from the warnings
that carry a score (sinks/clickhouse/book.py), and ``model_metrics`` from the
model metrics topic (streams/model_metrics.py).

One batch is at most ``max_rows`` messages or ``max_wait_s`` of polling, whichever
comes first. Its rows go in with one native columnar insert per table; only when
every insert (including the batch's dead letters) succeeded are the batch's
offsets committed, synchronously. So:

- ClickHouse down (network errors, or server errors that say "later", such as too
  many parts or a table not yet migrated): the batch is kept and retried with
  capped exponential backoff, and nothing is committed. A writer stopped or killed
  meanwhile loses only memory; the group redelivers the batch.
- ClickHouse refusing data: the rows are split in halves, recursively, until the
  refused rows are alone; the rest is inserted and each refused row goes to
  ``dead_letters`` with ClickHouse's reason. A message that is not valid JSON or
  lacks a field goes there too, without troubling the server.
- A redelivered batch (crash between insert and commit, rebalance) inserts rows
  that exist already; the ReplacingMergeTree tables collapse them, and readers
  using ``FINAL`` see every record once.
"""

from __future__ import annotations

import gc
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Unpack

from config import Settings
from sinks.clickhouse.book import (
    LOANS,
    MODEL_SCORES,
    NOTE_LABELS,
    book_row,
    score_row,
)
from sinks.clickhouse.dialect import Kind, Table
from sinks.clickhouse.tables import DEAD_LETTERS, TABLES, WARNINGS, BadMessage, columnar, row_of
from sinks.errors import WriterStopped
from sinks.metrics import SinkMetrics
from sinks.source import BatchWriter, SourceMessage, WriterOptions

__all__ = ["ClickHouseWriter", "DrainResult", "default_topics", "run"]

log = logging.getLogger(__name__)

# Server error codes that mean "not now" rather than "not this data": retry, never
# dead-letter. Anything else the server or the driver raises for an insert is
# taken as a verdict on the rows.
_TRANSIENT_CODES = frozenset(
    {
        60,  # UNKNOWN_TABLE: not migrated yet
        81,  # UNKNOWN_DATABASE
        159,  # TIMEOUT_EXCEEDED
        164,  # READONLY
        192,  # UNKNOWN_USER
        193,  # WRONG_PASSWORD
        194,  # REQUIRED_PASSWORD
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        203,  # NO_FREE_CONNECTION
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        241,  # MEMORY_LIMIT_EXCEEDED
        242,  # TABLE_IS_READ_ONLY
        252,  # TOO_MANY_PARTS
        497,  # ACCESS_DENIED
        516,  # AUTHENTICATION_FAILED
    }
)


class _Unavailable(Exception):
    """ClickHouse cannot take rows right now; the batch must be retried as a whole."""


def default_topics(settings: Settings) -> dict[str, str]:
    """Topic name -> table name: the topics Loanwatch writes, and the events for the book.

    The events topic is named by ``loans``, the first table it fills; its
    collectors' labels go to ``note_labels`` (sinks/clickhouse/book.py).
    """
    topics = settings.topics
    return {
        topics.warnings: "warnings",
        topics.transitions: "transitions",
        topics.actions: "actions",
        topics.model_metrics: "model_metrics",
        topics.events: LOANS.name,
    }


_NOT_FROM_TOPICS = frozenset({DEAD_LETTERS.name, MODEL_SCORES.name, NOTE_LABELS.name})

_TARGETS: Mapping[str, Table] = {
    **TABLES,
    LOANS.name: LOANS,
    NOTE_LABELS.name: NOTE_LABELS,
    MODEL_SCORES.name: MODEL_SCORES,
}
"""Every table the writer inserts into, by name."""


def _row(table: str, value: bytes | None) -> tuple[str, tuple[Any, ...]] | None:
    """(table, row) of a message read for ``table``; None when it is skipped.

    The events topic (``loans``) feeds the book, which picks the table by event
    type; every other topic has one table.
    """
    return book_row(value) if table == LOANS.name else (table, row_of(table, value))


@dataclass
class DrainResult:
    """What one `ClickHouseWriter.drain_once` did."""

    consumed: int = 0
    inserted: dict[str, int] = field(default_factory=dict)  # rows per table
    dead_letters: int = 0
    committed: bool = False  # offsets committed (False when nothing came, stopped, or refused)
    retries: int = 0


_Message = SourceMessage


class ClickHouseWriter(BatchWriter):
    """One consumer and one ClickHouse connection; call `drain_once` in a loop, or `run`.

    ``topics`` maps topic -> table (``warnings``, ``transitions``, ``actions``,
    ``model_metrics``, ``loans``), by default `default_topics`. ``client`` and
    ``consumer`` may be given for tests; otherwise they are built from
    ``settings``. Batch limits, backoff, stop event and metrics:
    `sinks.source.WriterOptions`.
    """

    sink = "clickhouse"
    max_rows = 10_000
    max_wait_s = 1.0
    backoff_initial_s = 0.5
    backoff_max_s = 30.0

    def __init__(
        self,
        settings: Settings,
        *,
        topics: Mapping[str, str] | None = None,
        group_id: str | None = None,
        client: Any | None = None,
        **options: Unpack[WriterOptions],
    ) -> None:
        self.topics = dict(topics if topics is not None else default_topics(settings))
        unknown = sorted(set(self.topics.values()) - (set(_TARGETS) - _NOT_FROM_TOPICS))
        if unknown:
            raise ValueError(f"no such output table: {unknown}")
        group = group_id or f"{settings.app_id}-clickhouse"
        super().__init__(settings, self.topics, group, **options)
        self.database = settings.clickhouse.database
        if client is None:
            from clickhouse_driver import Client

            client = Client(**settings.clickhouse.driver_kwargs())
        self.client = client
        self._units: dict[str, list[tuple[int, timedelta]]] = {}

    # -- the loop ---------------------------------------------------------------------

    def drain_once(self) -> DrainResult:
        """Poll one batch, store it in ClickHouse, then commit its offsets.

        Blocks, retrying, while ClickHouse is unavailable; returns uncommitted if the
        stop event is set meanwhile.
        """
        started = time.monotonic()
        result = DrainResult()
        messages = self._poll_batch()
        result.consumed = len(messages)
        if not messages:
            return result
        with gc_paused():
            stored = self._store_batch(result, messages)
        if stored:
            result.committed = self._commit(messages, started)
        return result

    def _store_batch(self, result: DrainResult, messages: Sequence[_Message]) -> bool:
        """Parse and insert one batch; False when stopped before ClickHouse took it."""
        by_table: dict[str, list[tuple[_Message, tuple[Any, ...]]]] = {}
        dead: list[tuple[_Message, str, str]] = []  # message, target table, reason
        for message in messages:
            table = self.topics[message.topic]
            try:
                routed = _row(table, message.value)
            except BadMessage as exc:
                dead.append((message, exc.table or table, str(exc)))
                continue
            if routed is not None:
                by_table.setdefault(routed[0], []).append((message, routed[1]))
        try:
            for table, pairs in by_table.items():
                refused = self._store(result, table, pairs, dead)
                if table == WARNINGS.name:
                    # Scores only of the warnings stored: a refused row has no score row.
                    left = {id(message) for message, _ in refused}
                    scores = [
                        (message, score)
                        for message, row in pairs
                        if id(message) not in left and (score := score_row(row)) is not None
                    ]
                    if scores:
                        self._store(result, MODEL_SCORES.name, scores, dead)
            if dead:
                self._with_retry(result, lambda: self._insert_dead(dead))
                result.dead_letters = len(dead)
        except WriterStopped:
            log.warning("stopped before ClickHouse took the batch; %d offsets left", len(messages))
            return False
        return True

    def close_store(self) -> None:
        self.client.disconnect()

    def _store(
        self,
        result: DrainResult,
        table: str,
        pairs: Sequence[tuple[_Message, tuple[Any, ...]]],
        dead: list[tuple[_Message, str, str]],
    ) -> list[tuple[_Message, str]]:
        """Insert the rows (retrying while unavailable); refused ones join ``dead``."""
        refused: list[tuple[_Message, str]] = self._with_retry(
            result, partial(self._insert_all, table, pairs)
        )
        result.inserted[table] = result.inserted.get(table, 0) + len(pairs) - len(refused)
        dead.extend((message, table, reason) for message, reason in refused)
        return refused

    # -- ClickHouse ---------------------------------------------------------------------

    def _with_retry(self, result: DrainResult, action: Callable[[], Any]) -> Any:
        return self._retry(action, (_Unavailable,), result)

    def _insert_all(
        self, table: str, pairs: Sequence[tuple[_Message, tuple[Any, ...]]]
    ) -> list[tuple[_Message, str]]:
        """Insert what ClickHouse accepts; return the refused messages with reasons.

        Halving finds k bad rows among n in about 2k·log2(n) inserts, and a clean
        batch (the usual case) costs exactly one.
        """
        if not pairs:
            return []
        reason = self._insert(table, [row for _, row in pairs])
        if reason is None:
            return []
        if len(pairs) == 1:
            return [(pairs[0][0], reason)]
        half = len(pairs) // 2
        return self._insert_all(table, pairs[:half]) + self._insert_all(table, pairs[half:])

    def _insert_dead(self, dead: Sequence[tuple[_Message, str, str]]) -> None:
        now = datetime.now(UTC)
        rows = [
            (
                m.topic,
                m.partition,
                m.offset,
                target,
                (m.value or b"").decode("utf-8", errors="replace"),
                reason,
                now,
            )
            for m, target, reason in dead
        ]
        reason = self._insert(DEAD_LETTERS.name, rows)
        if reason is not None:  # our own rows, plain strings: a refusal is a bug, not data
            raise RuntimeError(f"ClickHouse refused dead letters: {reason}")

    def _insert(self, table: str, rows: Sequence[tuple[Any, ...]]) -> str | None:
        """One columnar insert: None when accepted, the reason when the data was refused.

        Raises `_Unavailable` when the failure says nothing about the data.
        """
        from clickhouse_driver import errors

        columns = _TARGETS[table].columns
        names = ", ".join(c.name for c in columns)
        try:
            data = columnar(rows, len(columns))
            units = self._units.get(table)
            for i, unit in units or ():
                data[i] = epoch_integers(data[i], unit)
            self.client.execute(
                f"INSERT INTO {self.database}.{table} ({names}) VALUES",  # noqa: S608 - our names
                data,
                columnar=True,
            )
        except (
            errors.NetworkError,
            errors.SocketTimeoutError,
            errors.UnexpectedPacketFromServerError,
            errors.UnknownPacketFromServerError,
            OSError,
            EOFError,
        ) as exc:
            self._units.clear()  # perhaps another server now: read the column types again
            raise _Unavailable(str(exc)) from exc
        except errors.ServerException as exc:
            if exc.code in _TRANSIENT_CODES:
                self._units.clear()
                raise _Unavailable(f"code {exc.code}") from exc
            # str() of a server exception is "Code: N." alone on its first line.
            return _first_line(f"Code: {exc.code}. {exc.message}")
        except (errors.Error, TypeError, ValueError, OverflowError) as exc:
            # Client-side serialization refused a value (wrong type, out of range).
            return _first_line(f"{type(exc).__name__}: {exc}")
        if units is None:
            self._learn_time_units(table)
        return None

    def _learn_time_units(self, table: str) -> None:
        """Note (column index, unit of the stored integer) of each time column of ``table``.

        The driver converts every timezone-aware datetime through pytz, which costs
        about as much as the rest of the insert; given the integer the column stores
        it converts nothing. That integer depends on the column the server made:
        seconds for ``DateTime`` (18.16), milliseconds for ``DateTime64(3)``, so the
        types are read from ``system.columns`` once the table has taken an insert
        (it exists, and the connection works), and again after an outage, when the
        server may be another one. Until then, and if the read fails, the rows go as
        datetimes.
        """
        from clickhouse_driver import errors

        try:
            types = dict(
                self.client.execute(
                    "SELECT name, type FROM system.columns "
                    "WHERE database = %(database)s AND table = %(table)s",
                    {"database": self.database, "table": table},
                )
            )
        except (errors.Error, OSError, EOFError) as exc:
            log.debug("column types of %s not read (%s); sending datetimes", table, exc)
            return
        self._units[table] = [
            (i, unit)
            for i, c in enumerate(_TARGETS[table].columns)
            if c.kind is Kind.TIME and (unit := time_unit(types.get(c.name, ""))) is not None
        ]


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch is parsed and inserted.

    A batch is tens of thousands of new tuples, strings and datetimes, none in a
    reference cycle, and each young-generation collection the allocations trigger
    walks them all again; paused, the batch costs ~15 % less in
    bench/sink_writers.py. What cycles a batch does make are collected afterwards.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def time_unit(column_type: str) -> timedelta | None:
    """The unit of the integer a ``DateTime`` or ``DateTime64(p)`` column stores.

    None for any other type, or a precision finer than microseconds: such a column
    gets datetimes, which the driver converts itself.

    >>> time_unit("DateTime('UTC')"), time_unit("DateTime64(3, 'UTC')"), time_unit("String")
    (datetime.timedelta(seconds=1), datetime.timedelta(microseconds=1000), None)
    >>> time_unit("Nullable(DateTime('UTC'))")
    datetime.timedelta(seconds=1)
    """
    column_type = column_type.removeprefix("Nullable(")
    match = re.match(r"^DateTime64\((\d+)", column_type)
    if match:
        precision = int(match.group(1))
        return timedelta(microseconds=10 ** (6 - precision)) if precision <= 6 else None
    return timedelta(seconds=1) if column_type.startswith("DateTime") else None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_integers(values: list[datetime | None], unit: timedelta) -> list[int | None]:
    """Timezone-aware datetimes as whole ``unit``s since the epoch (what the server stores).

    >>> epoch_integers([datetime(2026, 3, 5, 0, 0, 2, 113000, tzinfo=UTC), None],
    ...                timedelta(milliseconds=1))
    [1772668802113, None]
    """
    return [None if at is None else (at - _EPOCH) // unit for at in values]


def run(
    settings: Settings,
    stop_event: threading.Event,
    *,
    max_rows: int = 10_000,
    max_wait_s: float = 1.0,
    metrics: SinkMetrics | None = None,
) -> None:
    """`loanwatch sink clickhouse`: write Loanwatch's outputs to ClickHouse until stopped.

    Run `sinks.clickhouse.migrate` first: until the tables exist, the writer waits
    (an unknown table is a "not now" error) rather than dead-lettering anything.
    """
    ClickHouseWriter(
        settings, max_rows=max_rows, max_wait_s=max_wait_s, stop_event=stop_event, metrics=metrics
    ).run()


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "refused"
    return line[:1000]
