"""Versioned, idempotent schema migrations, recorded in ``schema_migrations``.

Each migration is a list of table descriptions (sinks/clickhouse/tables.py)
rendered for the connected server, so one migration list serves ClickHouse 18.16
(the local stack, CI) and current releases alike; a migration may also append
columns to an existing table (`AddedColumns`). A migration is recorded only
after all of its statements ran, tables are created ``IF NOT EXISTS`` and a
column is added only when ``system.columns`` lacks it, so a run that died
half-way simply runs again.

The recorded checksum hashes the *description* (names, columns, keys), not the
rendered SQL: upgrading the server renders different SQL for the same migration,
which must not count as an edit. Editing a migration that a database already
applied does change it, and `migrate` then refuses with `MigrationError` instead
of leaving that database silently different from the code: add a new migration.

Concurrent runs are harmless (both apply the same ``IF NOT EXISTS`` DDL; the
recorded versions are read as a set), so no lock is taken.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from config import Settings
from sinks.clickhouse import tables as _tables
from sinks.clickhouse.backtest import BACKTEST_RULE_RESULTS, BACKTEST_RUNS
from sinks.clickhouse.book import LOANS, MODEL_SCORES, NOTE_LABELS
from sinks.clickhouse.dialect import (
    Column,
    ServerFeatures,
    Table,
    add_column_sql,
    create_table_sql,
)
from sinks.clickhouse.reports import REPORT_RUNS
from sinks.clickhouse.tables import (
    ACTIONS,
    DEAD_LETTERS,
    MODEL_METRICS,
    SCHEMA_MIGRATIONS,
    TRANSITION_STATE,
    TRANSITIONS_V1,
    WARNINGS,
)
from sinks.errors import MigrationError

__all__ = [
    "MIGRATIONS",
    "AddedColumns",
    "Executes",
    "Migration",
    "apply_migrations",
    "migrate",
    "pending",
]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z0-9_]+$")


class Executes(Protocol):
    """What migrations need of a connection: run one statement, return its rows."""

    def execute(self, query: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class AddedColumns:
    """Columns a migration appends to a table an earlier migration created."""

    table: str
    columns: tuple[Column, ...]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    tables: tuple[Table, ...]
    added: tuple[AddedColumns, ...] = ()

    def __post_init__(self) -> None:
        if self.version < 1 or not _NAME.match(self.name):
            raise ValueError(f"migration {self.version} {self.name!r}: bad version or name")

    @property
    def checksum(self) -> str:
        """sha256 of the server-independent description (see the module docstring)."""
        text = f"{self.version}\x1f{self.name}\x1f" + "\x1e".join(map(repr, self.tables))
        if self.added:  # absent from the text otherwise, so older checksums stay as recorded
            text += "\x1d" + "\x1e".join(map(repr, self.added))
        return hashlib.sha256(text.encode()).hexdigest()

    def statements(
        self, features: ServerFeatures, database: str, existing: Mapping[str, set[str]]
    ) -> list[str]:
        """The DDL still to run, given the columns each table already has.

        ``ADD COLUMN IF NOT EXISTS`` is not in 18.16, so the columns already there
        (``existing``, by table, from ``system.columns``) are what makes a re-run after
        a half-applied migration harmless.
        """
        sql = [create_table_sql(table, features, database) for table in self.tables]
        for change in self.added:
            have = existing.get(change.table, set())
            sql += [
                add_column_sql(change.table, column, features, database)
                for column in change.columns
                if column.name not in have
            ]
        return sql


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "outputs", (WARNINGS, TRANSITIONS_V1, ACTIONS)),
    Migration(2, "dead_letters", (DEAD_LETTERS,)),
    Migration(3, "alert_events", (_tables.ALERT_EVENTS,)),
    Migration(4, "loans_and_model_scores", (LOANS, MODEL_SCORES)),
    Migration(5, "model_metrics", (MODEL_METRICS,)),
    Migration(6, "transition_state", (), (AddedColumns(TRANSITIONS_V1.name, TRANSITION_STATE),)),
    Migration(7, "note_labels", (NOTE_LABELS,)),
    Migration(8, "backtest_results", (BACKTEST_RUNS, BACKTEST_RULE_RESULTS)),
    Migration(9, "api_audit", (_tables.API_AUDIT,)),
    Migration(10, "report_runs", (REPORT_RUNS,)),
)
"""Append only: a migration, once released, is never edited or reordered."""


def pending(
    applied: dict[int, str], migrations: Sequence[Migration] = MIGRATIONS
) -> list[Migration]:
    """Migrations not yet applied, in version order; refuses edited or unknown ones.

    ``applied`` maps each recorded version to its recorded checksum.
    """
    known = {m.version: m for m in migrations}
    if len(known) != len(migrations):
        raise MigrationError("two migrations share a version")
    for version, checksum in sorted(applied.items()):
        migration = known.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {version}, which this code does not know; "
                "is it newer than this release?"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"migration {version} ({migration.name}) was edited after the database applied "
                "it; add a new migration instead"
            )
    return sorted((m for m in migrations if m.version not in applied), key=lambda m: m.version)


def apply_migrations(
    client: Executes,
    features: ServerFeatures,
    database: str,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> list[Migration]:
    """Create ``database`` if missing, apply what is pending, return what was applied."""
    client.execute(f"CREATE DATABASE IF NOT EXISTS {_plain(database)}")
    client.execute(create_table_sql(SCHEMA_MIGRATIONS, features, database))
    rows = client.execute(
        f"SELECT version, checksum FROM {database}.schema_migrations"  # noqa: S608 - checked name
    )
    applied = {int(version): str(checksum) for version, checksum in rows}
    done: list[Migration] = []
    for migration in pending(applied, migrations):
        existing = _columns(client, database, [change.table for change in migration.added])
        for statement in migration.statements(features, database, existing):
            client.execute(statement)
        # INSERT ... SELECT, not VALUES: over the native protocol an inline VALUES list
        # leaves 18.16 waiting for a data block. Literals are safe: the name is checked
        # by Migration and the checksum is hex.
        client.execute(
            f"INSERT INTO {database}.schema_migrations (version, name, applied_at, checksum) "  # noqa: S608
            f"SELECT {int(migration.version)}, '{migration.name}', now(), '{migration.checksum}'"
        )
        log.info("applied migration %d %s to %s", migration.version, migration.name, database)
        done.append(migration)
    return done


def migrate(settings: Settings) -> list[Migration]:
    """`loanwatch db migrate`: bring ``settings.clickhouse.database`` up to date.

    Connects to the ``default`` database, because the target may not exist yet.
    Returns the migrations applied by this run (empty when already up to date).
    """
    from clickhouse_driver import Client

    client = Client(**settings.clickhouse.driver_kwargs(database="default"))
    try:
        return apply_migrations(client, ServerFeatures.of(client), settings.clickhouse.database)
    finally:
        client.disconnect()


def migrate_when_reachable(settings: Settings, stop: threading.Event) -> bool:
    """`migrate`, retried with backoff while ClickHouse cannot be reached: a long-running
    command's start (``sink clickhouse``). The outage is said once, then once a minute.

    Returns False when ``stop`` was set before ClickHouse answered.
    """
    from config.outage import Outage, clickhouse_errors, short_reason

    outage = Outage("ClickHouse", settings.clickhouse.address())
    delay = 1.0
    while not stop.is_set():
        try:
            migrate(settings)
        except clickhouse_errors() as exc:
            outage.failed(short_reason(exc))
            stop.wait(delay)
            delay = min(delay * 2, 30.0)
            continue
        outage.recovered()
        return True
    return False


def _columns(client: Executes, database: str, tables: Sequence[str]) -> dict[str, set[str]]:
    """The columns each of ``tables`` has now (none for a table that does not exist)."""
    found: dict[str, set[str]] = {table: set() for table in tables}
    for table in found:
        rows = client.execute(
            "SELECT name FROM system.columns "  # noqa: S608 - checked names
            f"WHERE database = '{_plain(database)}' AND table = '{_plain(table)}'"
        )
        found[table] = {str(row[0]) for row in rows}
    return found


def _plain(identifier: str) -> str:
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", identifier):
        raise ValueError(f"not a plain identifier: {identifier!r}")
    return identifier
