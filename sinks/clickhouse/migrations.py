"""Versioned, idempotent schema migrations, recorded in ``schema_migrations``.

Each migration is a list of table descriptions (sinks/clickhouse/tables.py)
rendered for the connected server, so one migration list serves ClickHouse 18.16
(the local stack, CI) and current releases alike. A migration is recorded only
after all of its statements ran, and every statement is ``IF NOT EXISTS``, so a
run that died half-way simply runs again.

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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from config import Settings
from sinks.clickhouse import tables as _tables
from sinks.clickhouse.book import LOANS, MODEL_SCORES
from sinks.clickhouse.dialect import ServerFeatures, Table, create_table_sql
from sinks.clickhouse.tables import (
    ACTIONS,
    DEAD_LETTERS,
    MODEL_METRICS,
    SCHEMA_MIGRATIONS,
    TRANSITIONS,
    WARNINGS,
)
from sinks.errors import MigrationError

__all__ = ["MIGRATIONS", "Executes", "Migration", "apply_migrations", "migrate", "pending"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z0-9_]+$")


class Executes(Protocol):
    """What migrations need of a connection: run one statement, return its rows."""

    def execute(self, query: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    tables: tuple[Table, ...]

    def __post_init__(self) -> None:
        if self.version < 1 or not _NAME.match(self.name):
            raise ValueError(f"migration {self.version} {self.name!r}: bad version or name")

    @property
    def checksum(self) -> str:
        """sha256 of the server-independent description (see the module docstring)."""
        text = f"{self.version}\x1f{self.name}\x1f" + "\x1e".join(map(repr, self.tables))
        return hashlib.sha256(text.encode()).hexdigest()

    def statements(self, features: ServerFeatures, database: str) -> list[str]:
        return [create_table_sql(table, features, database) for table in self.tables]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "outputs", (WARNINGS, TRANSITIONS, ACTIONS)),
    Migration(2, "dead_letters", (DEAD_LETTERS,)),
    Migration(3, "alert_events", (_tables.ALERT_EVENTS,)),
    Migration(4, "loans_and_model_scores", (LOANS, MODEL_SCORES)),
    Migration(5, "model_metrics", (MODEL_METRICS,)),
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
        for statement in migration.statements(features, database):
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


def _plain(identifier: str) -> str:
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", identifier):
        raise ValueError(f"not a plain identifier: {identifier!r}")
    return identifier
