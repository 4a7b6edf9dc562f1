"""A seeded book in a test's ClickHouse database, as the writer would have stored it.

The simulator's events are judged offline by the pure engine, replayed with the
worker's event clock (`streams.backtest.Replay`, as `expected_warnings` in
conftest.py), and every output goes through the writer's own conversions
(`row_of`, `book_row`, `score_row`) into the tables `db migrate` made. Model
metrics, which the offline engine does not compute, are a few hand-made records in
the docs/warnings.md format.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from clickhouse_driver import Client

from config import Settings
from rules import encode_event
from sinks.clickhouse import LOANS, MODEL_METRICS, MODEL_SCORES, NOTE_LABELS, TABLES, row_of
from sinks.clickhouse.book import book_row, score_row
from streams.app import build_engine
from streams.backtest import CoreStepper, Replay
from streams.outputs import outputs_of
from streams.simulate import BookSpec, LoanBook

_COLUMNS = {t.name: t for t in (*TABLES.values(), LOANS, NOTE_LABELS, MODEL_SCORES)}


def insert(clickhouse: Client, table: str, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        names = ", ".join(c.name for c in _COLUMNS[table].columns)
        clickhouse.execute(f"INSERT INTO {table} ({names}) VALUES", rows)  # noqa: S608


def seed_book(settings: Settings, clickhouse: Client, loans: int, months: int, seed: int) -> None:
    """Judge a simulated book offline and store its loans and outputs."""
    topics = settings.topics
    table_of = {
        topics.warnings: "warnings",
        topics.transitions: "transitions",
        topics.actions: "actions",
    }
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _COLUMNS}
    engine = build_engine(settings)
    replay = Replay(CoreStepper(engine), engine, partitions=settings.topics.partitions)
    for item, result in replay.steps(LoanBook(BookSpec(loans, months, seed))):
        if hasattr(item, "event_id"):
            kept = book_row(encode_event(item))
            if kept is not None:
                rows[kept[0]].append(kept[1])
        for output in outputs_of(result, settings):
            table = table_of[output.topic]
            row = row_of(table, output.value)
            rows[table].append(row)
            if table == "warnings" and (scored := score_row(row)) is not None:
                rows[MODEL_SCORES.name].append(scored)
    for table, table_rows in rows.items():
        insert(clickhouse, table, table_rows)


def metrics_record(model: str, partition: int, n: int, at: str, **figures: Any) -> tuple[Any, ...]:
    """One ``model_metrics`` row from a record as the worker sends it."""
    body = {
        "schema_version": 1,
        "model": model,
        "partition": partition,
        "model_version": f"v{n}",
        "n": n,
        "roc_auc": None,
        "log_loss": None,
        "brier": None,
        "precision": None,
        "threshold": None,
        "alerts": None,
        "accuracy": None,
        "produced_at": at,
        **figures,
    }
    return row_of(MODEL_METRICS.name, orjson.dumps(body))


def now() -> datetime:
    return datetime.now(UTC)
