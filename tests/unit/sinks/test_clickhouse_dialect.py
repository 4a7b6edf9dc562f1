"""Table DDL renders per server version; the modern variant runs on current ClickHouse (chdb)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sinks.clickhouse import Column, Kind, ServerFeatures, Table, create_table_sql

NOTES = Table(
    "notes",
    (
        Column("loan_id", Kind.STRING),
        Column("team", Kind.LABEL),
        Column("amount", Kind.INT64),
        Column("promised_on", Kind.DAY, nullable=True),
        Column("at", Kind.TIME),
    ),
    order_by=("loan_id", "at"),
    engine="ReplacingMergeTree",
    partition_by="toYYYYMM(at)",
    ttl_column="at",
    ttl_days=400,
)

chdb_session = pytest.importorskip("chdb.session")

OLD = ServerFeatures.from_version("18.16.1")
MODERN = ServerFeatures.from_version("24.8.4.13")


@pytest.fixture
def chdb() -> Iterator[object]:
    session = chdb_session.Session()
    session.query("CREATE DATABASE IF NOT EXISTS lw")
    yield session
    session.close()


def test_old_server_gets_the_common_subset_without_newer_features() -> None:
    sql = create_table_sql(NOTES, OLD, "lw")
    assert "LowCardinality" not in sql
    assert "DateTime64" not in sql
    assert "TTL" not in sql
    assert "at DateTime('UTC')" in sql
    assert "promised_on Nullable(Date)" in sql


def test_modern_server_gets_low_cardinality_datetime64_and_ttl() -> None:
    sql = create_table_sql(NOTES, MODERN, "lw")
    assert "team LowCardinality(String)" in sql
    assert "at DateTime64(3, 'UTC')" in sql
    assert sql.endswith("TTL toDateTime(at) + INTERVAL 400 DAY")


@pytest.mark.parametrize(
    ("version", "low_cardinality", "ttl", "datetime64"),
    [
        ("18.16.1", False, False, False),
        ("19.3.4", True, False, False),
        ("19.6.2.11", True, True, False),
        ("20.1.2.4", True, True, True),
        ("26.9.2.1", True, True, True),
    ],
)
def test_features_switch_on_at_their_first_release(
    version: str, low_cardinality: bool, ttl: bool, datetime64: bool
) -> None:
    features = ServerFeatures.from_version(version)
    assert (features.low_cardinality, features.ttl, features.datetime64) == (
        low_cardinality,
        ttl,
        datetime64,
    )


def test_unparsable_version_is_refused() -> None:
    with pytest.raises(ValueError, match="not a ClickHouse version"):
        ServerFeatures.from_version("banana")


def test_order_key_must_be_a_column() -> None:
    with pytest.raises(ValueError, match="'nope' is not one of its columns"):
        Table("t", (Column("a", Kind.STRING),), order_by=("nope",))


def test_identifiers_needing_quotes_are_refused() -> None:
    table = Table("t; DROP TABLE x", (Column("a", Kind.STRING),), order_by=("a",))
    with pytest.raises(ValueError, match="not a plain identifier"):
        create_table_sql(table, MODERN, "lw")


def test_modern_ddl_runs_on_current_clickhouse_and_stores_rows(chdb: object) -> None:
    session = chdb  # chdb's Session: the current ClickHouse engine in-process
    features = ServerFeatures.from_version(str(session.query("SELECT version()", "CSV")).strip())
    assert features.datetime64 and features.ttl and features.low_cardinality
    session.query(create_table_sql(NOTES, features, "lw"))
    # Recent rows, so the 400-day TTL keeps them.
    session.query(
        "INSERT INTO lw.notes VALUES "
        "('L1', 'collections', 150000, today() + 3, now64(3) - INTERVAL 2 DAY), "
        "('L1', 'collections', 150000, NULL, now64(3) - INTERVAL 1 DAY), "
        "('L2', 'care', 0, NULL, now64(3))"
    )
    result = session.query(
        "SELECT loan_id, team, sum(amount), countIf(promised_on IS NOT NULL), "
        "toTypeName(any(at)) FROM lw.notes GROUP BY loan_id, team ORDER BY loan_id",
        "TSVRaw",
    )
    assert str(result).splitlines() == [
        "L1\tcollections\t300000\t1\tDateTime64(3, 'UTC')",
        "L2\tcare\t0\t0\tDateTime64(3, 'UTC')",
    ]
    ddl = str(session.query("SHOW CREATE TABLE lw.notes", "TSVRaw"))
    assert "TTL toDateTime(at) + toIntervalDay(400)" in ddl
    assert "`team` LowCardinality(String)" in ddl


def test_old_ddl_also_runs_on_current_clickhouse(chdb: object) -> None:
    """The common subset is valid on both releases: users may pin the old variant."""
    session = chdb
    session.query(create_table_sql(NOTES, OLD, "lw"))
    session.query("INSERT INTO lw.notes VALUES ('L1', 'care', 1, NULL, now())")
    assert str(session.query("SELECT count() FROM lw.notes", "CSV")).strip() == "1"
