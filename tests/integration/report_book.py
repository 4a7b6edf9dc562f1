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
from sinks.clickhouse.book import book_row, loan_row, score_row
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


SAME_DAY = [  # bucket transitions: loan, from, to, day, event time, cause, bucket after
    # L1: the midnight tick (16:00 UTC the day before, +08:00) makes it M1, a repayment
    # at 10:15 local cures it. L2: one repayment step first ticks the clock to its day,
    # then cures: both changes carry the step's time, cause and final bucket. Each loan's
    # later change is stored first.
    ("L1", "M1", "M0", "2026-02-06", "2026-02-06T02:15:00+00:00", "r-1", "M0"),
    ("L1", "M0", "M1", "2026-02-06", "2026-02-05T16:00:00+00:00", "clock:2026-02-06:L1", "M1"),
    ("L2", "M1", "M0", "2026-02-06", "2026-02-06T03:00:00+00:00", "r-2", "M0"),
    ("L2", "M0", "M1", "2026-02-06", "2026-02-06T03:00:00+00:00", "r-2", "M0"),
    ("L3", "M0", "M1", "2026-02-03", "2026-02-02T16:00:00+00:00", "clock:2026-02-03:L3", "M1"),
    ("L3", "M1", "M2", "2026-03-02", "2026-03-01T16:00:00+00:00", "clock:2026-03-02:L3", "M2"),
]
"""Three loans of 300000 CNY paid out on 2026-01-05; L1 and L2 fall behind and are cured
on 2026-02-06, L3 stays behind from 2026-02-03 and reaches M2 on 2026-03-02."""


def store_same_day_book(clickhouse: Client) -> None:
    """Store `SAME_DAY`'s loans and transitions, one insert (one part) per transition."""
    insert(
        clickhouse,
        LOANS.name,
        [loan_row(orjson.dumps(disbursement(loan))) for loan in sorted({m[0] for m in SAME_DAY})],
    )
    for loan, a, b, on, at, cause, bucket in SAME_DAY:
        body = {"schema_version": 1, "loan_id": loan, "kind": "bucket", "from": a, "to": b}
        body |= {"on": on, "event_id": cause, "borrower_id": f"bw-{loan}", "dpd": 0}
        body |= {"bucket": bucket, "klass": "normal", "event_time": at, "produced_at": at}
        insert(clickhouse, "transitions", [row_of("transitions", orjson.dumps(body))])


def disbursement(loan_id: str, on: str = "2026-01-05") -> dict[str, Any]:
    """A docs/events.md ``loan_disbursed`` event, paid out at 09:30 Shanghai time."""
    return {
        "type": "loan_disbursed",
        "event_id": f"d-{loan_id}",
        "loan_id": loan_id,
        "borrower_id": f"bw-{loan_id}",
        "event_time": f"{on}T09:30:00+08:00",
        "source": "core-banking",
        "schema_version": 1,
        "principal": 300000,
        "currency": "CNY",
        "product": "consumer-cash-3m",
        "disbursed_account": "acct-ref-55",
        "interest_rate_bps": 1200,
        "schedule": [
            {"seq": 1, "due_date": "2026-06-01", "principal": 300000, "interest": 0, "fees": 0}
        ],
    }
