"""The DDL rendered for the stack's own ClickHouse (18.16) is accepted and stores rows."""

from __future__ import annotations

from datetime import UTC, datetime

from clickhouse_driver import Client

from sinks.clickhouse import ServerFeatures, create_table_sql
from streams.smoke import SMOKE_EVENTS


def test_rendered_ddl_creates_a_working_table_on_the_stack_server(clickhouse: Client) -> None:
    features = ServerFeatures.of(clickhouse)
    database = clickhouse.execute("SELECT currentDatabase()")[0][0]
    clickhouse.execute(create_table_sql(SMOKE_EVENTS, features, database))
    at = datetime(2026, 1, 5, 8, 0, 1, tzinfo=UTC)
    clickhouse.execute(
        "INSERT INTO smoke_events (run_id, event_id, loan_id, type, event_time) VALUES",
        [("r1", "e1", "L1", "loan_disbursed", at)],
    )
    rows = clickhouse.execute("SELECT type, toYYYYMM(event_time), event_time FROM smoke_events")
    assert rows[0][:2] == ("loan_disbursed", 202601)
    assert rows[0][2].replace(tzinfo=UTC) == at
    # Re-running the migration step is harmless.
    clickhouse.execute(create_table_sql(SMOKE_EVENTS, features, database))
