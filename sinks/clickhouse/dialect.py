"""One table description, rendered for whichever ClickHouse release answers.

Our CI and local stack run Debian's ClickHouse 18.16; users run current
releases. Tables are therefore described once, as data, and rendered to the
SQL the connected server understands: newer features (LowCardinality strings,
DateTime64 with millisecond precision, TTL) are used where `version()` says
they exist, and fall back to the common subset elsewhere. Queries against the
tables are unaffected: ``toYYYYMM``, comparisons and ``FINAL`` behave the same
on both variants.

>>> table = Table("t", (Column("rule", Kind.LABEL), Column("at", Kind.TIME)), order_by=("rule",))
>>> print(create_table_sql(table, ServerFeatures.from_version("18.16.1"), "db"))
CREATE TABLE IF NOT EXISTS db.t (rule String, at DateTime('UTC')) ENGINE = MergeTree ORDER BY (rule)
>>> print(create_table_sql(table, ServerFeatures.from_version("24.8.4.13"), "db"))
CREATE TABLE IF NOT EXISTS db.t (rule LowCardinality(String), at DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY (rule)
"""  # noqa: E501

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

__all__ = ["Column", "Kind", "ServerFeatures", "Table", "add_column_sql", "create_table_sql"]


class _Executes(Protocol):
    def execute(self, query: str) -> Any: ...


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class ServerFeatures:
    """What the connected server supports, read from ``SELECT version()``."""

    version: tuple[int, ...]

    # First releases with each feature enabled by default.
    LOW_CARDINALITY = (19, 3)
    TTL = (19, 6)
    DATETIME64 = (20, 1)

    @classmethod
    def from_version(cls, text: str) -> ServerFeatures:
        parts = re.findall(r"\d+", text)
        if len(parts) < 2:
            raise ValueError(f"not a ClickHouse version: {text!r}")
        return cls(tuple(int(p) for p in parts))

    @classmethod
    def of(cls, client: _Executes) -> ServerFeatures:
        """Ask a connected server (a clickhouse-driver ``Client``) for its version."""
        return cls.from_version(str(client.execute("SELECT version()")[0][0]))

    @property
    def low_cardinality(self) -> bool:
        return self.version >= self.LOW_CARDINALITY

    @property
    def ttl(self) -> bool:
        return self.version >= self.TTL

    @property
    def datetime64(self) -> bool:
        return self.version >= self.DATETIME64


class Kind(StrEnum):
    """Column kinds in our own terms; each renders per server."""

    STRING = "string"  # free text or ids
    LABEL = "label"  # few distinct values: rule ids, severities, buckets
    TIME = "time"  # an instant, stored in UTC
    DAY = "day"
    INT64 = "int64"  # money in minor units
    UINT32 = "uint32"
    UINT8 = "uint8"
    FLOAT64 = "float64"  # scores and probabilities, never money


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = False

    def render(self, features: ServerFeatures) -> str:
        sql = _type_sql(self.kind, features)
        if self.nullable and sql.startswith("LowCardinality("):
            # Current servers refuse Nullable(LowCardinality(...)); the wrapper goes inside.
            sql = f"LowCardinality(Nullable({sql[len('LowCardinality(') : -1]}))"
        elif self.nullable:
            sql = f"Nullable({sql})"
        return f"{_checked(self.name)} {sql}"


@dataclass(frozen=True, slots=True)
class Table:
    """A MergeTree-family table; ``ttl_days`` applies only where the server has TTL."""

    name: str
    columns: tuple[Column, ...]
    order_by: tuple[str, ...]
    engine: str = "MergeTree"
    partition_by: str | None = None
    ttl_column: str | None = None
    ttl_days: int | None = None
    version_column: str | None = None
    """ReplacingMergeTree's version: of rows sharing the order key, the highest survives."""

    def __post_init__(self) -> None:
        names = [column.name for column in self.columns]
        for key in (*self.order_by, self.ttl_column, self.version_column):
            if key is not None and key not in names:
                raise ValueError(f"table {self.name}: {key!r} is not one of its columns")


def create_table_sql(table: Table, features: ServerFeatures, database: str) -> str:
    """The ``CREATE TABLE IF NOT EXISTS`` statement for this server."""
    columns = ", ".join(column.render(features) for column in table.columns)
    sql = (
        f"CREATE TABLE IF NOT EXISTS {_checked(database)}.{_checked(table.name)} ({columns}) "
        f"ENGINE = {table.engine}"
    )
    if table.version_column:
        sql += f"({_checked(table.version_column)})"
    if table.partition_by:
        sql += f" PARTITION BY {table.partition_by}"
    sql += f" ORDER BY ({', '.join(table.order_by)})"
    if table.ttl_column and table.ttl_days and features.ttl:
        sql += f" TTL toDateTime({table.ttl_column}) + INTERVAL {int(table.ttl_days)} DAY"
    return sql


def add_column_sql(table: str, column: Column, features: ServerFeatures, database: str) -> str:
    """``ALTER TABLE ... ADD COLUMN`` for this server (the column goes last).

    >>> add_column_sql("t", Column("n", Kind.UINT32, nullable=True),
    ...                ServerFeatures.from_version("18.16.1"), "db")
    'ALTER TABLE db.t ADD COLUMN n Nullable(UInt32)'
    """
    return (
        f"ALTER TABLE {_checked(database)}.{_checked(table)} ADD COLUMN {column.render(features)}"
    )


def _type_sql(kind: Kind, features: ServerFeatures) -> str:
    if kind is Kind.LABEL:
        return "LowCardinality(String)" if features.low_cardinality else "String"
    if kind is Kind.TIME:
        return "DateTime64(3, 'UTC')" if features.datetime64 else "DateTime('UTC')"
    return {
        Kind.STRING: "String",
        Kind.DAY: "Date",
        Kind.INT64: "Int64",
        Kind.UINT32: "UInt32",
        Kind.UINT8: "UInt8",
        Kind.FLOAT64: "Float64",
    }[kind]


def _checked(identifier: str) -> str:
    # Names are ours, never user input; refuse anything that would need quoting.
    if not _IDENTIFIER.match(identifier):
        raise ValueError(f"not a plain identifier: {identifier!r}")
    return identifier
