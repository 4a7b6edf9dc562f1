"""ClickHouse for analysts: DDL that works on old and current servers alike.

`migrate` (``loanwatch db migrate``) creates and upgrades the tables;
`ClickHouseWriter` / `run` (``loanwatch sink clickhouse``) fills them from Kafka.
Importing this package loads neither client library: the writer and `migrate`
import confluent-kafka and clickhouse-driver when they connect.
"""

from __future__ import annotations

from sinks.clickhouse.backtest import BACKTEST_RULE_RESULTS, BACKTEST_RUNS
from sinks.clickhouse.book import LOANS, MODEL_SCORES, NOTE_LABELS
from sinks.clickhouse.dialect import Column, Kind, ServerFeatures, Table, create_table_sql
from sinks.clickhouse.migrations import (
    MIGRATIONS,
    Migration,
    apply_migrations,
    migrate,
    migrate_when_reachable,
)
from sinks.clickhouse.reports import REPORT_RUNS
from sinks.clickhouse.tables import (
    ACTIONS,
    DEAD_LETTERS,
    MODEL_METRICS,
    SCHEMA_MIGRATIONS,
    TABLES,
    TRANSITIONS,
    WARNINGS,
    BadMessage,
    row_of,
)
from sinks.clickhouse.writer import ClickHouseWriter, DrainResult, run

__all__ = [
    "ACTIONS",
    "BACKTEST_RULE_RESULTS",
    "BACKTEST_RUNS",
    "DEAD_LETTERS",
    "LOANS",
    "MIGRATIONS",
    "MODEL_METRICS",
    "MODEL_SCORES",
    "NOTE_LABELS",
    "REPORT_RUNS",
    "SCHEMA_MIGRATIONS",
    "TABLES",
    "TRANSITIONS",
    "WARNINGS",
    "BadMessage",
    "ClickHouseWriter",
    "Column",
    "DrainResult",
    "Kind",
    "Migration",
    "ServerFeatures",
    "Table",
    "apply_migrations",
    "create_table_sql",
    "migrate",
    "migrate_when_reachable",
    "row_of",
    "run",
]
