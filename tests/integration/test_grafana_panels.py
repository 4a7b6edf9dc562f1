"""Every Grafana panel's and variable's SQL on ClickHouse 18.16, over a simulated book.

Grafana never runs here, so its part is done by `grafana_sql`: the ClickHouse
plugin's macros as the plugin expands them (pkg/macros/macros.go of
grafana/clickhouse-datasource: ``$__fromTime`` is ``toDateTime(<unix seconds>)``,
``$__timeFilter(c)`` is ``c >= toDateTime(<from>) AND c <= toDateTime(<to>)``) and
Grafana's own variable formats (``${name:singlequote}``: each value quoted, joined by
commas; ``${name}``: the value). The values are the ones docs/deploy.md lists: the
whole of 2024 (the simulated book starts on 2024-01-01) and "All" for every filter.

The bucket, class and roll-rate answers are checked against the same book worked out
in Python from the engine's own transitions (`SeededBook.label_on`), not from SQL.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_driver import Client
from confluent_kafka.admin import AdminClient
from report_book import store_same_day_book
from seeded_book import SeededBook, seed_book

from config import Settings
from sinks.clickhouse import migrate

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "deploy" / "grafana"
FROM, TO = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)

COLUMNS = {  # the columns each panel's settings (series, matrix fields) rely on
    "state_by_day": ["time", "label", "<measure>"],
    "roll_rates": ["month", "from_bucket", "to_bucket", "loans", "roll_rate"],
    "vintages": ["cohort", "mob", "loans", "bad_rate"],
    "new_warnings": ["time", "rule", "warnings"],
    "open_warnings": ["rule_id", "severity", "open_warnings"],
    "riskiest_loans": [
        "loan_id",
        "product",
        "principal",
        "dpd",
        "bucket",
        "klass",
        "open_warnings",
        "rules",
        "max_score",
    ],
    "pd_auc": ["time", "hub", "roc_auc"],
    "var_product": ["product"],
    "var_cohort": ["cohort"],
    "var_team": ["owner_team"],
}


def grafana_sql(
    sql: str, values: dict[str, str | list[str]], start: datetime = FROM, end: datetime = TO
) -> str:
    """``sql`` as Grafana and the ClickHouse plugin would send it."""
    first, last = int(start.timestamp()), int(end.timestamp())
    sql = re.sub(
        r"\$__timeFilter\(([^)]*)\)",
        lambda m: f"{m[1]} >= toDateTime({first}) AND {m[1]} <= toDateTime({last})",
        sql,
    )
    sql = sql.replace("$__fromTime", f"toDateTime({first})")
    sql = sql.replace("$__toTime", f"toDateTime({last})")

    def value(m: re.Match[str]) -> str:
        chosen = values[m["name"]]
        items = chosen if isinstance(chosen, list) else [chosen]
        if m["format"] == "singlequote":
            return ",".join("'" + item.replace("'", "\\'") + "'" for item in items)
        assert m["format"] is None, m[0]
        return ",".join(items)

    sql = re.sub(r"\$\{(?P<name>\w+)(?::(?P<format>\w+))?\}", value, sql)
    assert "$" not in sql, sql
    return sql


def panel_sql() -> dict[str, str]:
    """Each query the dashboards hold, by its file's name (checked equal by a unit test)."""
    return {path.stem: path.read_text(encoding="utf-8") for path in (GRAFANA / "sql").glob("*.sql")}


@pytest.fixture(scope="module")
def book_db(stack: object, settings: Settings) -> Iterator[tuple[Client, SeededBook]]:
    database = f"test_grafana_{uuid.uuid4().hex[:10]}"
    admin = Client(**settings.clickhouse.driver_kwargs(database="default"))
    admin.execute(f"CREATE DATABASE {database}")
    local = settings.model_copy(
        update={"clickhouse": settings.clickhouse.model_copy(update={"database": database})}
    )
    kafka = AdminClient(settings.kafka.confluent_config())
    book = seed_book(local, kafka, f"test.{database}", loans=80, months=10, seed=11)
    client = Client(**local.clickhouse.driver_kwargs())
    yield client, book
    client.disconnect()
    admin.execute(f"DROP DATABASE IF EXISTS {database}")
    admin.disconnect()


def all_values(client: Client) -> dict[str, str | list[str]]:
    """ "All" for every filter: what the variables' own queries list."""
    sql = panel_sql()
    return {
        name: [row[0] for row in client.execute(grafana_sql(sql[f"var_{name}"], {}))]
        for name in ("product", "cohort", "team")
    }


def run(client: Client, name: str, values: dict[str, Any], **times: datetime) -> list[Any]:
    rows, columns = client.execute(
        grafana_sql(panel_sql()[name], values, **times), with_column_types=True
    )
    expected = [values.get("measure", "") if c == "<measure>" else c for c in COLUMNS[name]]
    assert [c for c, _ in columns] == expected, (name, columns)
    return list(rows)


def test_every_dashboard_query_has_its_columns_and_rows(
    book_db: tuple[Client, SeededBook],
) -> None:
    client, _ = book_db
    used = set(panel_sql())  # each one is in a dashboard: tests/unit/config/test_grafana_files.py
    assert used == set(COLUMNS)
    values = all_values(client)
    assert values["product"] and values["cohort"] and values["team"]
    for name in sorted(used):
        for dimension in ("bucket", "klass"):
            for measure in ("loans", "principal"):
                rows = run(client, name, {**values, "dimension": dimension, "measure": measure})
                assert rows, f"{name} ({dimension}, {measure}) answered nothing"


def days(first: date, last: date) -> Iterator[date]:
    while first <= last:
        yield first
        first += timedelta(days=1)


@pytest.mark.parametrize("dimension", ["bucket", "klass"])
@pytest.mark.parametrize("measure", ["loans", "principal"])
def test_state_by_day_counts_each_loan_under_its_label_that_day(
    book_db: tuple[Client, SeededBook], dimension: str, measure: str
) -> None:
    client, book = book_db
    moved = Counter((t["loan_id"], t["kind"], t["on"]) for t in book.transitions)
    assert max(moved.values()) > 1  # some loan moves twice in a day: the order is tested
    values = {**all_values(client), "dimension": dimension, "measure": measure}
    one_product = sorted({loan.product for loan in book.loans.values()})[0]
    for chosen in (values, {**values, "product": [one_product]}):
        got = run(client, "state_by_day", chosen)
        expected: Counter[tuple[date, str]] = Counter()
        for day in days(FROM.date(), min(TO.date(), book.last_day)):
            for loan in book.loans.values():
                label = book.label_on(loan.loan_id, dimension, day)
                if label is not None and loan.product in chosen["product"]:
                    expected[(day, label)] += loan.principal if measure == "principal" else 1
        assert {(t.date(), label): n for t, label, n in got} == expected
        assert len(got) == len(expected)


def test_a_loan_moved_twice_in_one_step_ends_the_day_in_the_state_the_step_ended_in(
    settings: Settings, clickhouse: Client
) -> None:
    """Changes of one step share its time: the one that agrees with its state comes last."""
    database = clickhouse.execute("SELECT currentDatabase()")[0][0]
    migrate(
        settings.model_copy(
            update={"clickhouse": settings.clickhouse.model_copy(update={"database": database})}
        )
    )
    store_same_day_book(clickhouse)
    values = {**all_values(clickhouse), "dimension": "bucket", "measure": "loans"}
    got = run(clickhouse, "state_by_day", values, end=datetime(2026, 2, 28, tzinfo=UTC))
    on = {label: n for t, label, n in got if t.date() == date(2026, 2, 6)}
    assert on == {"M0": 2, "M1": 1}  # L1 and L2 were cured the day they fell behind
    rolls = run(clickhouse, "roll_rates", values, end=datetime(2026, 3, 2, tzinfo=UTC))
    assert [(a, b, n) for _, a, b, n, _ in rolls] == [("M0", "M0", 2), ("M0", "M1", 1)]


def month_end(month: date, ahead: int) -> date:
    """The last day of the month ``ahead`` months after ``month``."""
    year, index = divmod(month.month - 1 + ahead + 1, 12)
    return date(month.year + year, index + 1, 1) - timedelta(days=1)


@pytest.mark.parametrize("end", [TO, datetime(2024, 6, 15, tzinfo=UTC)])
def test_roll_rates_are_the_moves_from_one_month_end_to_the_next(
    book_db: tuple[Client, SeededBook], end: datetime
) -> None:
    client, book = book_db
    got = run(client, "roll_rates", all_values(client), end=end)
    # The month: the last whose next month ends within the range and the data.
    last = min(end.date(), book.last_day) + timedelta(days=1)
    month = date(last.year, last.month, 1)
    for _ in range(2):
        month = date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
    moves: Counter[tuple[str, str]] = Counter()
    for loan_id in book.loans:
        now = book.label_on(loan_id, "bucket", month_end(month, 0))
        if now is not None:
            moves[(now, book.label_on(loan_id, "bucket", month_end(month, 1)) or "")] += 1
    cohorts: Counter[str] = Counter()
    for (start, _), n in moves.items():
        cohorts[start] += n
    expected = [
        (month, start, to, n, round(n / cohorts[start], 4))
        for (start, to), n in sorted(moves.items())
    ]
    assert got == expected
    assert any(start != to for _, start, to, _, _ in got)  # the book moves at all
