"""`loanwatch report` against the stack's ClickHouse 18.16, on a seeded simulated book.

The report's figures are held equal to the analysts' documented queries
(docs/analytics.md, themselves tested in test_clickhouse_writer.py) or to plain SQL
over the same tables; the workbook is opened and read back; an empty period and an
unreachable server each give what docs/reports.md promises.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from cli_support import cli_env, closed_port, run_once
from clickhouse_driver import Client
from openpyxl import load_workbook
from report_book import insert, metrics_record, seed_book, store_same_day_book

from config import Settings
from reports import Period, build_report, make_report
from reports.queries import run_query
from sinks.clickhouse import migrate

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 7, 2, 1, 0, tzinfo=UTC)


def local(settings: Settings, clickhouse: Client) -> Settings:
    database = clickhouse.execute("SELECT currentDatabase()")[0][0]
    return settings.model_copy(
        update={"clickhouse": settings.clickhouse.model_copy(update={"database": database})}
    )


def doc_queries() -> list[str]:
    text = (Path(__file__).parents[2] / "docs" / "analytics.md").read_text()
    return re.findall(r"```sql\n(.*?)```", text, flags=re.DOTALL)


def set_period(query: str, name: str, day: str) -> str:
    """A documented period query with its period set by hand, as docs/analytics.md says."""
    (line,) = [line for line in query.splitlines() if f"AS {name}" in line]
    indent = line[: len(line) - len(line.lstrip())]
    return query.replace(line, f"{indent}toDate('{day}') AS {name}")


@pytest.fixture
def book(settings: Settings, clickhouse: Client) -> Settings:
    """A migrated database holding 120 simulated loans over 6 months (2024-01..06)."""
    target = local(settings, clickhouse)
    migrate(target)
    seed_book(target, clickhouse, loans=120, months=6, seed=7)
    insert(
        clickhouse,
        "model_metrics",
        [
            metrics_record("pd", 0, 100, "2024-03-20T00:00:00+00:00", roc_auc=0.70, brier=0.10),
            metrics_record("pd", 0, 150, "2024-04-05T00:00:00+00:00", roc_auc=0.72, brier=0.09),
            metrics_record("pd", 0, 220, "2024-04-28T00:00:00+00:00", roc_auc=0.75, brier=0.08),
            metrics_record("pd", 0, 300, "2024-05-03T00:00:00+00:00", roc_auc=0.60, brier=0.20),
            metrics_record("intent", 1, 40, "2024-04-10T00:00:00+00:00", accuracy=0.8),
        ],
    )
    return target


def rows(report: Any, key: str) -> list[tuple[Any, ...]]:
    return list(report.section(key).rows)


def test_monthly_figures_equal_the_documented_queries(book: Settings, clickhouse: Client) -> None:
    april = Period.monthly(date(2024, 4, 1), ZONE)
    report = build_report(clickhouse, april, database="x", now=NOW)
    queries = doc_queries()
    assert not report.empty

    # Book quality on the last day: the documented daily query's row for 2024-04-30.
    daily = clickhouse.execute(set_period(queries[4], "first_day", "2024-04-01"))
    on_last = {(b, n, rate) for day, b, n, rate in daily if day == date(2024, 4, 30)}
    buckets = rows(report, "portfolio_buckets")
    assert {(b, n, round(share, 4)) for b, n, share, _ in buckets if b != "M0"} == on_last
    assert (
        sum(r[1] for r in buckets)
        == clickhouse.execute("SELECT count() FROM loans FINAL WHERE disbursed_on <= '2024-04-30'")[
            0
        ][0]
    )
    principal = sum(r[3].minor for r in buckets)
    assert (
        principal
        == clickhouse.execute(
            "SELECT sum(principal) FROM loans FINAL WHERE disbursed_on <= '2024-04-30'"
        )[0][0]
    )

    # Roll rates: end of March to end of April, as the documented query's March rows.
    rolls = clickhouse.execute(set_period(queries[5], "first_month", "2024-03-01"))
    march = [(a, b, n, rate) for m, a, b, n, rate in rolls if m == date(2024, 3, 1)]
    got = [(a, b, n, round(rate, 4)) for a, b, n, rate in rows(report, "roll_rates")]
    assert sorted(got) == sorted(march) and got

    # Vintages: the documented curves, up to the report's last day.
    vintages = clickhouse.execute(queries[6])
    expected = [
        (cohort.strftime("%Y-%m"), mob, n, rate)
        for cohort, mob, n, rate in vintages
        if (cohort.year, cohort.month + mob) <= (2024, 4)
    ]
    got_v = [(c, mob, n, round(rate, 4)) for c, mob, n, _, rate in rows(report, "vintages")]
    assert got_v == expected and got_v

    # Bucket moves within April: the documented per-month query.
    moves = clickhouse.execute(queries[2])
    assert [(a, b, n) for m, a, b, n in moves if m == date(2024, 4, 1)] == [
        (a, b, n) for kind, a, b, n in rows(report, "migrations") if kind == "bucket"
    ]

    # Warnings opened in April (Shanghai days), by plain SQL.
    opened = clickhouse.execute(
        "SELECT rule_id, count() FROM warnings FINAL WHERE status = 'open' "
        "AND event_time >= toDateTime('2024-03-31 16:00:00', 'UTC') "
        "AND event_time < toDateTime('2024-04-30 16:00:00', 'UTC') GROUP BY rule_id"
    )
    assert {(rule, n) for rule, _, n, *_ in rows(report, "warnings_by_rule")} == set(opened)
    assert len(rows(report, "top_warnings")) == min(25, sum(n for _, n in opened))

    # Models: the latest checkpoint by the end, and the change since the first in April.
    (intent, pd) = rows(report, "model_metrics")
    assert pd[:4] == ("pd", 0, 220, 0.75) and pd[4] == pytest.approx(0.03)
    assert pd[5] == 0.08 and pd[6] == pytest.approx(-0.01)
    assert intent[0] == "intent" and intent[8] == 0.8 and intent[3] is None


def test_a_loan_moved_twice_on_one_day_ends_the_month_in_its_last_change(
    settings: Settings, clickhouse: Client
) -> None:
    migrate(local(settings, clickhouse))
    store_same_day_book(clickhouse)
    february = Period.monthly(date(2026, 2, 1), ZONE)
    # L1 and L2 were cured on the day they fell behind; only L3 ends February in M1.
    buckets = run_query(clickhouse, "portfolio_buckets", february)
    assert buckets == [("M0", "CNY", 2, 600000), ("M1", "CNY", 1, 300000)]
    assert run_query(clickhouse, "roll_rates", february) == [("M0", "M0", 2), ("M0", "M1", 1)]


def test_rule_precision_of_the_last_month_equals_the_documented_query(
    book: Settings, clickhouse: Client
) -> None:
    june = Period.monthly(date(2024, 6, 1), ZONE)
    report = build_report(clickhouse, june, database="x", now=NOW)
    documented = clickhouse.execute(doc_queries()[7])
    assert [(r, n, bad, round(p, 4)) for r, n, bad, p in rows(report, "rule_precision")] == (
        documented
    )


def test_files_open_with_the_expected_sheets_and_values_and_the_run_is_recorded(
    book: Settings, clickhouse: Client, tmp_path: Path
) -> None:
    april = Period.monthly(date(2024, 4, 1), ZONE)
    run = make_report(book, april, out=tmp_path, lang="en", formats=["html", "xlsx", "pdf"])
    assert run.status == "ok"
    html_path, xlsx_path, pdf_path = run.files
    report = build_report(clickhouse, april, database="x", now=NOW)

    workbook = load_workbook(xlsx_path)
    assert workbook.sheetnames == ["about", *(s.key for s in report.sections)]
    sheet = workbook["roll_rates"]
    assert [c.value for c in sheet[1]] == ["From", "To", "Loans", "Roll rate"]
    assert [tuple(c.value for c in row) for row in sheet.iter_rows(min_row=2)] == [
        (a, b, n, pytest.approx(rate)) for a, b, n, rate in rows(report, "roll_rates")
    ]
    buckets = workbook["portfolio_buckets"]
    first = rows(report, "portfolio_buckets")[0]
    assert buckets["D2"].value == Decimal(first[3].minor) / 100
    assert buckets["D2"].number_format == '"CNY" #,##0.00'

    page = html_path.read_text(encoding="utf-8")
    assert "<svg" in page and "CNY " in page
    # Nothing fetched: no script, stylesheet, image source or url() other than in-page refs.
    assert not re.search(r"<script|<link|\ssrc=|@import|url\((?!#)", page)
    assert pdf_path.read_bytes().startswith(b"%PDF")

    (recorded,) = clickhouse.execute(
        "SELECT kind, period, first_day, last_day, lang, status, files, row_counts, error "
        "FROM report_runs WHERE run_id = %(run_id)s",
        {"run_id": run.run_id},
    )
    assert recorded[:6] == ("monthly", "2024-04", date(2024, 4, 1), date(2024, 4, 30), "en", "ok")
    assert orjson.loads(recorded[6]) == [str(p) for p in run.files]
    assert orjson.loads(recorded[7]) == report.row_counts() and recorded[8] == ""


def test_a_daily_digest_in_chinese_translates_labels_and_formats_money(
    book: Settings, tmp_path: Path
) -> None:
    day = Period.daily(date(2024, 4, 10), ZONE)
    run = make_report(book, day, out=tmp_path, lang="zh-CN", formats=["html", "pdf"])
    page = run.files[0].read_text(encoding="utf-8")
    assert "贷后日报 2024-04-10" in page and "正常" in page and "CNY " in page
    assert run.files[0].name == "loanwatch-daily-2024-04-10.zh-CN.html"


def test_an_empty_period_gives_a_report_saying_so(
    settings: Settings, clickhouse: Client, tmp_path: Path
) -> None:
    target = local(settings, clickhouse)
    migrate(target)
    day = Period.daily(date(2026, 11, 3), ZONE)
    run = make_report(target, day, out=tmp_path, lang="en", formats=["html", "xlsx", "pdf"])
    assert run.status == "empty"
    page = run.files[0].read_text(encoding="utf-8")
    assert "No data for this period" in page
    about = load_workbook(run.files[1])["about"]
    assert any("No data for this period" in str(c.value) for row in about.iter_rows() for c in row)
    assert clickhouse.execute("SELECT status FROM report_runs") == [("empty",)]


def test_unreachable_clickhouse_is_one_line_and_an_unmigrated_database_another(
    settings: Settings, clickhouse: Client, tmp_path: Path
) -> None:
    args = ["report", "daily", "--day", "2024-04-10", "--out", str(tmp_path / "out")]
    down = run_once(args, cli_env(tmp_path, clickhouse__port=str(closed_port())), tmp_path)
    assert down.returncode == 69
    (line,) = down.stderr.strip().splitlines()
    assert line.startswith("error: cannot reach ClickHouse at 127.0.0.1:") and "exiting" in line
    database = clickhouse.execute("SELECT currentDatabase()")[0][0]
    bare = run_once(args, cli_env(tmp_path, clickhouse__database=database), tmp_path)
    assert bare.returncode == 2
    (line,) = bare.stderr.strip().splitlines()
    assert "run `loanwatch db migrate` first" in line
