"""Messages become rows; the tables and migrations run on current ClickHouse (chdb).

The writer's batch logic (halving, retries, commits) runs against the real stack in
tests/integration/test_clickhouse_writer.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from sinks.clickhouse import (
    MIGRATIONS,
    TABLES,
    TRANSITIONS,
    WARNINGS,
    BadMessage,
    Column,
    Kind,
    Migration,
    ServerFeatures,
    Table,
    apply_migrations,
    create_table_sql,
    row_of,
)
from sinks.clickhouse.migrations import pending
from sinks.clickhouse.tables import _SHAPES, _WIRE, DEAD_LETTERS, checked_row, columnar
from sinks.errors import MigrationError, SinkError

# The example in docs/warnings.md, verbatim.
WARNING = {
    "schema_version": 1,
    "warning_id": "5f0c1e2d3a4b5c6d7e8f9a0b",
    "status": "open",
    "loan_id": "L-000123",
    "borrower_id": "bw-7f3a9c",
    "rule_id": "dpd_30",
    "rule_version": 1,
    "pack_digest": "9b1f...",
    "severity": "high",
    "owner_team": "collections",
    "message": "L-000123 is 30 days past due (M1 -> M2)",
    "episode": 1,
    "episode_key": "",
    "reasons": [{"name": "loan.dpd", "value": 30}],
    "score": None,
    "dpd": 30,
    "bucket": "M1",
    "klass": "special_mention",
    "event_id": None,
    "event_time": "2026-03-04T16:00:00+00:00",
    "produced_at": "2026-03-05T00:00:02.113+00:00",
}
# A transition as sent before the step's state was added to it (still stored).
TRANSITION = {
    "schema_version": 1,
    "loan_id": "L-000123",
    "kind": "bucket",
    "from": "M1",
    "to": "M2",
    "on": "2026-03-05",
    "event_id": None,
}
# The example in docs/warnings.md, read from it: the contract as documented.
_TRANSITIONS_DOC = (Path(__file__).parents[3] / "docs" / "warnings.md").read_text()
TRANSITION_WITH_STATE = orjson.loads(
    re.findall(r"```json\n(.*?)```", _TRANSITIONS_DOC.split("## `risk.transitions`")[1], re.S)[0]
)
ACTION = {
    "schema_version": 1,
    "action_id": "a1b2c3",
    "kind": "collection_step",
    "name": "phone_call",
    "loan_id": "L-000123",
    "borrower_id": "bw-7f3a9c",
    "due_on": "2026-03-05",
    "reason": "workflow",
    "params": {"channel": "phone", "dpd": 30},
    "event_id": "e-9",
    "produced_at": "2026-03-05T00:00:02+00:00",
}

# A record of the model metrics topic (streams/model_metrics.py), the PD's.
METRICS = {
    "schema_version": 1,
    "model": "pd",
    "partition": 3,
    "model_version": "pd-logistic.40/intent.2",
    "n": 40,
    "roc_auc": 0.71,
    "log_loss": 0.52,
    "brier": 0.18,
    "precision": None,
    "threshold": 0.35,
    "alerts": 0,
    "accuracy": None,
    "produced_at": "2026-03-05T08:00:02.500+08:00",
}


def as_dict(table: str, body: dict[str, Any]) -> dict[str, Any]:
    row = row_of(table, orjson.dumps(body))
    return dict(zip((c.name for c in TABLES[table].columns), row, strict=True))


def test_the_documented_warning_becomes_a_typed_row() -> None:
    row = as_dict("warnings", WARNING)
    assert row["warning_id"] == "5f0c1e2d3a4b5c6d7e8f9a0b"
    assert row["status"] == "open"
    assert row["event_time"] == datetime(2026, 3, 4, 16, tzinfo=UTC)
    assert row["produced_at"] == datetime(2026, 3, 5, 0, 0, 2, 113000, tzinfo=UTC)
    assert row["score"] is None and row["event_id"] is None
    assert orjson.loads(row["reasons"]) == [{"name": "loan.dpd", "value": 30}]
    assert (row["dpd"], row["rule_version"], row["episode"]) == (30, 1, 1)


def test_times_with_another_offset_are_stored_in_utc() -> None:
    row = as_dict("warnings", {**WARNING, "event_time": "2026-03-05T00:00:00+08:00"})
    assert row["event_time"] == datetime(2026, 3, 4, 16, tzinfo=UTC)


def test_transition_renames_keyword_fields_and_parses_the_day() -> None:
    row = as_dict("transitions", TRANSITION)
    assert (row["from_label"], row["to_label"], row["effective_on"]) == (
        "M1",
        "M2",
        date(2026, 3, 5),
    )


def test_a_transition_carries_the_state_its_step_ended_in() -> None:
    row = as_dict("transitions", TRANSITION_WITH_STATE)
    assert (row["borrower_id"], row["dpd"], row["bucket"], row["klass"]) == (
        "bw-7f3a9c",
        31,
        "M2",
        "special_mention",
    )
    assert row["event_time"] == datetime(2026, 4, 2, 16, tzinfo=UTC)
    assert row["produced_at"] == datetime(2026, 4, 3, 0, 0, 1, 482000, tzinfo=UTC)
    with pytest.raises(BadMessage, match="field 'dpd': expected an integer"):
        row_of("transitions", orjson.dumps({**TRANSITION_WITH_STATE, "dpd": "31"}))
    with pytest.raises(BadMessage, match="field 'event_time': time without a UTC offset"):
        row_of(
            "transitions",
            orjson.dumps({**TRANSITION_WITH_STATE, "event_time": "2026-04-02T16:00:00"}),
        )


def test_a_transition_sent_before_the_state_was_added_is_stored_with_nulls() -> None:
    row = as_dict("transitions", TRANSITION)
    added = ("borrower_id", "dpd", "bucket", "klass", "event_time", "produced_at")
    assert [row[name] for name in added] == [None] * len(added)
    assert row["loan_id"] == "L-000123"
    # Only the added fields may be absent: the original ones are still required.
    with pytest.raises(BadMessage, match="missing field 'on'"):
        row_of("transitions", orjson.dumps({k: v for k, v in TRANSITION.items() if k != "on"}))


def test_action_keeps_params_as_json_text() -> None:
    row = as_dict("actions", ACTION)
    assert orjson.loads(row["params"]) == {"channel": "phone", "dpd": 30}
    assert row["due_on"] == date(2026, 3, 5)
    assert row["event_id"] == "e-9"


def test_model_metrics_keep_undefined_figures_null_and_the_time_in_utc() -> None:
    row = as_dict("model_metrics", METRICS)
    assert (row["model"], row["partition"], row["n"], row["alerts"]) == ("pd", 3, 40, 0)
    assert row["precision"] is None and row["accuracy"] is None and row["roc_auc"] == 0.71
    assert row["produced_at"] == datetime(2026, 3, 5, 0, 0, 2, 500000, tzinfo=UTC)
    with pytest.raises(BadMessage, match="field 'alerts': expected an integer"):
        row_of("model_metrics", orjson.dumps({**METRICS, "alerts": 1.5}))


def test_unknown_fields_are_ignored_as_the_contract_asks() -> None:
    assert row_of("warnings", orjson.dumps({**WARNING, "new_field": 7})) == row_of(
        "warnings", orjson.dumps(WARNING)
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (None, "tombstone"),
        (orjson.dumps({k: v for k, v in WARNING.items() if k != "loan_id"}), "missing field"),
        (orjson.dumps({**WARNING, "dpd": "30"}), "field 'dpd': expected an integer"),
        (orjson.dumps({**WARNING, "dpd": True}), "field 'dpd': expected an integer"),
        (orjson.dumps({**WARNING, "status": None}), "field 'status' is null"),
        (orjson.dumps({**WARNING, "event_time": "yesterday"}), "not an ISO-8601 time"),
        (orjson.dumps({**WARNING, "event_time": "2026-03-04T16:00:00"}), "without a UTC offset"),
        (orjson.dumps({**WARNING, "reasons": "dpd"}), "expected a JSON list"),
        (orjson.dumps({**WARNING, "schema_version": 2}), "unsupported schema_version 2"),
    ],
)
def test_bad_messages_are_refused_with_a_reason(value: bytes | None, reason: str) -> None:
    with pytest.raises(BadMessage, match=reason):
        row_of("warnings", value)


@pytest.mark.parametrize(
    ("table", "body"),
    [
        ("warnings", WARNING),
        ("warnings", {**WARNING, "score": 1, "event_id": "e-1"}),  # an integer score
        ("warnings", {**WARNING, "score": 0.41, "event_time": "2026-03-05T00:00:00+08:00"}),
        ("warnings", {**WARNING, "produced_at": "2026-03-05T00:00:02Z"}),
        ("transitions", TRANSITION_WITH_STATE),
        ("transitions", TRANSITION),  # sent before the state was added
        ("transitions", {**TRANSITION_WITH_STATE, "event_time": "2026-04-03T00:00:00+08:00"}),
        ("actions", ACTION),
        ("actions", {**ACTION, "event_id": None, "params": {}}),
        ("model_metrics", METRICS),
        ("model_metrics", {**METRICS, "roc_auc": 1, "brier": None, "alerts": None}),
    ],
)
def test_the_fast_path_gives_the_checked_paths_row(table: str, body: dict[str, Any]) -> None:
    value = orjson.dumps(body)
    fast = _SHAPES[table].fast(value)
    assert fast is not None
    assert fast == checked_row(_WIRE[table], orjson.loads(value)) == row_of(table, value)
    assert [type(v) for v in fast] == [type(v) for v in checked_row(_WIRE[table], body)]


@pytest.mark.parametrize(
    "body",
    [
        {**WARNING, "dpd": True},
        {**WARNING, "status": None},
        {**WARNING, "event_time": "2026-03-04T16:00:00"},
        {**WARNING, "event_time": "yesterday"},
        {**WARNING, "schema_version": 2},
        {**WARNING, "schema_version": 1.0},
        {**WARNING, "score": True},
        {**WARNING, "score": "0.5"},
        {**WARNING, "reasons": {"name": "loan.dpd"}},
        {**WARNING, "event_id": 7},
        {k: v for k, v in WARNING.items() if k != "loan_id"},
    ],
)
def test_the_fast_path_declines_what_the_checked_path_refuses(body: dict[str, Any]) -> None:
    assert _SHAPES["warnings"].fast(orjson.dumps(body)) is None
    with pytest.raises(BadMessage):
        checked_row(_WIRE["warnings"], body)


def test_times_python_reads_but_rfc_3339_does_not_still_take_the_checked_path() -> None:
    body = {**WARNING, "event_time": "2026-03-05T00:00+08:00"}  # no seconds
    assert _SHAPES["warnings"].fast(orjson.dumps(body)) is None
    assert as_dict("warnings", body)["event_time"] == datetime(2026, 3, 4, 16, tzinfo=UTC)
    # RFC 3339 allows a lower-case t and z; both paths take them.
    lower = {**WARNING, "event_time": "2026-03-04t16:00:00z"}
    assert _SHAPES["warnings"].fast(orjson.dumps(lower)) == checked_row(_WIRE["warnings"], lower)


def test_every_table_has_a_wire_field_per_column() -> None:
    samples = {
        "warnings": WARNING,
        "transitions": TRANSITION,
        "actions": ACTION,
        "model_metrics": METRICS,
    }
    for table, body in samples.items():
        assert len(row_of(table, orjson.dumps(body))) == len(TABLES[table].columns)


def test_columnar_transposes_rows() -> None:
    assert columnar([(1, "a"), (2, "b")], 2) == [[1, 2], ["a", "b"]]
    assert columnar([], 3) == [[], [], []]
    with pytest.raises(ValueError, match="every row must have 2 values"):
        columnar([(1, "a"), (2,)], 2)


def test_old_ddl_uses_a_datetime_version_column_18_16_accepts() -> None:
    sql = create_table_sql(WARNINGS, ServerFeatures.from_version("18.16.1"), "lw")
    assert "ENGINE = ReplacingMergeTree(produced_at) PARTITION BY toYYYYMM(event_time)" in sql
    assert "ORDER BY (rule_id, loan_id, warning_id, status)" in sql
    assert "LowCardinality" not in sql


# -- migrations -------------------------------------------------------------------------


def test_pending_skips_applied_and_refuses_edited_or_unknown_migrations() -> None:
    first, second = MIGRATIONS[:2]
    assert pending({}) == list(MIGRATIONS)
    assert pending({first.version: first.checksum}) == list(MIGRATIONS[1:])
    with pytest.raises(MigrationError, match="was edited"):
        pending({first.version: "0" * 64})
    with pytest.raises(MigrationError, match="does not know"):
        pending({99: "x"})
    assert issubclass(MigrationError, SinkError)


def test_released_migrations_keep_the_checksums_databases_recorded() -> None:
    # Recorded by databases that applied them; a change here means a released
    # migration was edited (or TRANSITIONS_V1 stopped being the table migration 1 made).
    assert {m.version: m.checksum[:16] for m in MIGRATIONS} == {
        1: "7947b460ac53f4e8",
        2: "7b76ca9ff5d92dc3",
        3: "36432cd2fab8a10d",
        4: "98f42eb6d12abee4",
        5: "8f952db1f30550d2",
        6: "117255e014a79f02",
        7: "ff987da57cc08029",
        8: "e7156735b8c33c5f",
        9: "c00a3ce626f2f3d0",
        10: "452009b9e9523c9b",
    }


def test_added_columns_are_altered_in_only_where_the_table_lacks_them() -> None:
    features = ServerFeatures.from_version("18.16.1")
    (state,) = [m for m in MIGRATIONS if m.added]
    (change,) = state.added
    names = [c.name for c in change.columns]
    fresh = state.statements(features, "lw", {"transitions": set()})
    assert fresh[0] == "ALTER TABLE lw.transitions ADD COLUMN borrower_id Nullable(String)"
    assert len(fresh) == len(names)
    half_done = state.statements(features, "lw", {"transitions": set(names[:2])})
    assert half_done == fresh[2:]
    assert state.statements(features, "lw", {"transitions": set(names)}) == []


def test_checksum_depends_on_the_description_not_the_server() -> None:
    edited = Migration(MIGRATIONS[1].version, MIGRATIONS[1].name, (WARNINGS,))
    assert edited.checksum != MIGRATIONS[1].checksum
    assert Migration(2, "dead_letters", (DEAD_LETTERS,)).checksum == MIGRATIONS[1].checksum


chdb_session = pytest.importorskip("chdb.session")


class ChdbClient:
    """chdb's Session behind the one method migrations use (rows as string tuples)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.statements: list[str] = []

    def execute(self, query: str) -> list[tuple[str, ...]]:
        self.statements.append(query)
        text = str(self.session.query(query, "TSV"))
        return [tuple(line.split("\t")) for line in text.splitlines() if line]


@pytest.fixture
def chdb() -> Iterator[ChdbClient]:
    session = chdb_session.Session()
    yield ChdbClient(session)
    session.close()


def test_modern_migrations_run_on_current_clickhouse_once(chdb: ChdbClient) -> None:
    features = ServerFeatures.from_version(chdb.execute("SELECT version()")[0][0])
    assert features.datetime64 and features.low_cardinality
    applied = apply_migrations(chdb, features, "lw_mig")
    assert [m.version for m in applied] == [m.version for m in MIGRATIONS]
    assert apply_migrations(chdb, features, "lw_mig") == []
    recorded = chdb.execute(
        "SELECT version, name, checksum FROM lw_mig.schema_migrations ORDER BY version"
    )
    assert recorded == [(str(m.version), m.name, m.checksum) for m in MIGRATIONS]
    columns = chdb.execute(
        "SELECT name FROM system.columns WHERE database = 'lw_mig' AND table = 'transitions'"
    )
    assert [name for (name,) in columns] == [c.name for c in TRANSITIONS.columns]
    ddl = chdb.execute("SHOW CREATE TABLE lw_mig.warnings")[0][0]
    assert "ReplacingMergeTree(produced_at)" in ddl
    assert "`event_time` DateTime64(3, \\'UTC\\')" in ddl  # TSV escapes the quotes
    assert "LowCardinality(String)" in ddl


def test_modern_warnings_table_collapses_copies_but_keeps_open_and_resolved(
    chdb: ChdbClient,
) -> None:
    features = ServerFeatures.from_version(chdb.execute("SELECT version()")[0][0])
    apply_migrations(chdb, features, "lw_rows")
    insert = (
        "INSERT INTO lw_rows.warnings (warning_id, status, loan_id, borrower_id, rule_id, "
        "rule_version, pack_digest, severity, owner_team, message, episode, episode_key, "
        "reasons, score, dpd, bucket, klass, event_id, event_time, produced_at, schema_version) "
        "VALUES ('w1', '{status}', 'L1', 'b1', 'dpd_30', 1, 'd', 'high', 'collections', 'm', 1, "
        "'', '[]', NULL, 30, 'M1', 'special_mention', NULL, '2026-03-04 16:00:00', "
        "'{produced}', 1)"
    )
    chdb.execute(insert.format(status="open", produced="2026-03-05 00:00:02.113"))
    chdb.execute(insert.format(status="open", produced="2026-03-05 00:00:09.500"))  # redelivery
    chdb.execute(insert.format(status="resolved", produced="2026-04-01 00:00:00"))
    rows = chdb.execute(
        "SELECT status, toString(produced_at) FROM lw_rows.warnings FINAL ORDER BY status"
    )
    assert rows == [("open", "2026-03-05 00:00:09.500"), ("resolved", "2026-04-01 00:00:00.000")]


def test_nullable_label_renders_the_form_each_server_accepts(chdb: ChdbClient) -> None:
    table = Table(
        "labels",
        (Column("id", Kind.STRING), Column("team", Kind.LABEL, nullable=True)),
        order_by=("id",),
    )
    modern = ServerFeatures.from_version(chdb.execute("SELECT version()")[0][0])
    assert "team LowCardinality(Nullable(String))" in create_table_sql(table, modern, "lw_n")
    old = create_table_sql(table, ServerFeatures.from_version("18.16.1"), "lw_n")
    assert "team Nullable(String)" in old
    chdb.execute("CREATE DATABASE IF NOT EXISTS lw_n")
    chdb.execute(create_table_sql(table, modern, "lw_n"))
    chdb.execute("INSERT INTO lw_n.labels VALUES ('a', NULL), ('b', 'care')")
    assert chdb.execute("SELECT countIf(team IS NULL), count() FROM lw_n.labels") == [("1", "2")]


def test_version_column_must_be_a_column() -> None:
    with pytest.raises(ValueError, match="'nope' is not one of its columns"):
        Table("t", (Column("a", Kind.STRING),), order_by=("a",), version_column="nope")
