"""A backtest run as ClickHouse rows, and the documented queries on a current release (chdb).

The same queries run on the stack's 18.16 in
tests/integration/test_backtest_to_clickhouse.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from rules.pack import default_pack, load_pack
from rules.policy import load_policy
from rules.workflows import load_workflow_policy
from sinks.clickhouse import (
    BACKTEST_RULE_RESULTS,
    BACKTEST_RUNS,
    ServerFeatures,
    Table,
    apply_migrations,
)
from streams.backtest import BacktestOptions, BacktestReport, FileHistory, run_backtest, run_rows
from streams.simulate import BookSpec, LoanBook, write_book

RAN_AT = datetime(2024, 7, 1, 8, 30, tzinfo=UTC)


@pytest.fixture
def compared(tmp_path: Path, raised_pack: Path) -> BacktestReport:
    """A small book judged with the raised pack against the built-in one."""
    path = tmp_path / "book.jsonl"
    write_book(LoanBook(BookSpec(40, 4, 7)), path)
    return run_backtest(
        FileHistory(path),
        pack=load_pack(raised_pack),
        against=default_pack(),
        policy=load_policy(),
        workflows=load_workflow_policy(),
        options=BacktestOptions(),
    )


def test_a_run_is_one_row_and_one_result_per_side_and_signal(compared: BacktestReport) -> None:
    rows = run_rows(compared, "r1", RAN_AT)
    assert len(rows.run) == len(BACKTEST_RUNS.columns)
    assert {len(row) for row in rows.results} == {len(BACKTEST_RULE_RESULTS.columns)}
    evaluation = compared.candidate.evaluation
    per_side = len(evaluation.rules) + len(evaluation.severities) + 1
    assert len(rows.results) == 2 * per_side
    keys = [(row[2], row[6], row[7]) for row in rows.results]  # side, kind, signal
    assert len(set(keys)) == len(keys)
    severity = {(row[2], row[7]): row[8] for row in rows.results if row[6] == "rule"}
    assert severity["candidate", "dpd_1"] == "high" and severity["against", "dpd_1"] == "low"
    run = dict(zip((c.name for c in BACKTEST_RUNS.columns), rows.run, strict=True))
    assert (run["pack_version"], run["against_version"]) == (3, 2)
    assert run["bad_loans"] == evaluation.book.bad_loans > 0


def test_a_run_without_a_comparison_has_no_against_pack(compared: BacktestReport) -> None:
    alone = BacktestReport(compared.source, compared.options, compared.candidate)
    rows = run_rows(alone, "r2", RAN_AT)
    run = dict(zip((c.name for c in BACKTEST_RUNS.columns), rows.run, strict=True))
    assert (run["against_name"], run["against_version"], run["against_digest"]) == (None,) * 3
    assert {row[2] for row in rows.results} == {"candidate"}


chdb_session = pytest.importorskip("chdb.session")


class Chdb:
    """chdb's Session as a migrations client; rows come back as JSON values."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def execute(self, query: str) -> list[list[Any]]:
        text = str(self.session.query(query, "JSONCompact"))
        return orjson.loads(text)["data"] if text.strip() else []

    def insert(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        names = [column.name for column in table.columns]
        lines = b"\n".join(
            orjson.dumps(
                {
                    n: v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, datetime) else v
                    for n, v in zip(names, row, strict=True)
                }
            )
            for row in rows
        )
        self.session.query(f"INSERT INTO {table.name} FORMAT JSONEachRow " + lines.decode())


@pytest.fixture
def chdb() -> Iterator[Chdb]:
    session = chdb_session.Session()
    client = Chdb(session)
    features = ServerFeatures.from_version(str(client.execute("SELECT version()")[0][0]))
    apply_migrations(client, features, "lw_bt")
    client.execute("USE lw_bt")
    yield client
    session.close()


def test_the_documented_backtest_queries_answer_right_on_a_current_release(
    chdb: Chdb, compared: BacktestReport, backtest_queries: tuple[str, str]
) -> None:
    rows = run_rows(compared, "r1", RAN_AT)
    for _ in range(2):  # written twice: the run collapses into one
        chdb.insert(BACKTEST_RULE_RESULTS, rows.results)
        chdb.insert(BACKTEST_RUNS, [rows.run])
    across, changes = (chdb.execute(query) for query in backtest_queries)
    fired = {n: f for n, f in compared.candidate.evaluation.rules.items() if f.alerts}
    assert [row[0] for row in across] == sorted(fired)
    for row in across:
        assert row[2] == "r1" and row[4] == 3 and row[6] == fired[row[0]].alerts
    paging, candidate = compared.against, compared.candidate  # type: ignore[assignment]
    assert paging is not None
    before, after = paging.evaluation.paging, candidate.evaluation.paging
    assert [row[:4] for row in changes] == [
        ["rule", "dpd_1", "low", "high"],
        ["paging", "paging", None, None],
    ]
    assert changes[1][4:6] == [
        round(before.alerts_per_1k_loan_months, 1),
        round(after.alerts_per_1k_loan_months, 1),
    ]
    assert changes[1][5] > changes[1][4]
