"""``loanwatch backtest kafka:TOPIC --to-clickhouse`` against the stack: Kafka in, 18.16 out.

A simulator book goes to the test's topic; the command replays it with a pack
that raises ``dpd_1`` to high against the built-in pack, stores the run in the
test's own database (migrated as ``loanwatch db migrate`` does), and the two
backtest queries of docs/analytics.md answer what the command's JSON says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from clickhouse_driver import Client
from typer.testing import CliRunner

from config import Settings
from sinks.clickhouse import migrate
from streams.cli import app
from streams.simulate import BookSpec, LoanBook, produce_book


def backtest(database: str, *args: str) -> None:
    result = CliRunner().invoke(
        app,
        ["backtest", *args, "--to-clickhouse"],
        env={"LOANWATCH_CLICKHOUSE__DATABASE": database},
    )
    assert result.exit_code == 0, result.output
    assert "stored in ClickHouse" in result.output


def test_stored_runs_answer_the_documented_queries_on_the_stack_server(
    settings: Settings,
    clickhouse: Client,
    topic: str,
    tmp_path: Path,
    raised_pack: Path,
    backtest_queries: tuple[str, str],
) -> None:
    database = clickhouse.execute("SELECT currentDatabase()")[0][0]
    migrate(
        settings.model_copy(
            update={"clickhouse": settings.clickhouse.model_copy(update={"database": database})}
        )
    )
    produce_book(settings, LoanBook(BookSpec(40, 4, 7)), rate=None, topic=topic)
    figures = tmp_path / "figures.json"
    compared = ["--pack", str(raised_pack), "--json", str(figures), "--run-id", "r1"]
    backtest(database, f"kafka:{topic}", *compared)
    backtest(database, f"kafka:{topic}", *compared)  # the same run id again: replaced
    backtest(database, f"kafka:{topic}@..200", "--run-id", "r2")  # no comparison
    doc: dict[str, Any] = orjson.loads(figures.read_bytes())

    runs = clickhouse.execute(
        "SELECT run_id, pack_version, against_version, events, bad_loans FROM backtest_runs FINAL "
        "ORDER BY run_id"
    )
    candidate = doc["candidate"]
    assert runs == [
        ("r1", 3, 2, candidate["replay"]["events"], candidate["book"]["bad_loans"]),
        ("r2", 2, None, 400, 0),
    ]
    across, changes = (clickhouse.execute(query) for query in backtest_queries)
    fired = {name: f for name, f in candidate["rules"].items() if f["alerts"]}
    assert sorted({row[0] for row in across}) == sorted(fired)
    for rule_id, _, run_id, source, version, _, alerts, *_ in across:
        if run_id == "r1":
            assert source.startswith(f"kafka:{topic} (0:0..") and version == 3
            assert alerts == fired[rule_id]["alerts"]
    before, after = doc["against"]["paging"], candidate["paging"]
    assert [row[:4] for row in changes] == [
        ("rule", "dpd_1", "low", "high"),
        ("paging", "paging", None, None),
    ]
    assert changes[1][4:6] == (
        round(before["alerts_per_1k_loan_months"], 1),
        round(after["alerts_per_1k_loan_months"], 1),
    )
    assert changes[1][5] > changes[1][4]


def test_an_unmigrated_database_is_one_error_and_the_figures_still_print(
    clickhouse: Client, topic: str, settings: Settings
) -> None:
    produce_book(settings, LoanBook(BookSpec(5, 2, 7)), rate=None, topic=topic)
    database = clickhouse.execute("SELECT currentDatabase()")[0][0]
    result = CliRunner().invoke(
        app,
        ["backtest", f"kafka:{topic}", "--to-clickhouse"],
        env={"LOANWATCH_CLICKHOUSE__DATABASE": database},
    )
    assert "backtest of kafka:" in result.output
    assert isinstance(result.exception, Exception)
    assert "run `loanwatch db migrate` first; the run was not stored" in str(result.exception)
