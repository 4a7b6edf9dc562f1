"""Writes the Grafana dashboards and the SQL section of docs/analytics.md from sql/*.sql.

Each panel's and template variable's SQL lives in one file under ``deploy/grafana/sql/``;
this script puts it, verbatim, into the dashboard JSON Grafana provisions
(``deploy/grafana/dashboards/``) and into docs/analytics.md between the
``grafana-sql`` markers, so the dashboards and the docs cannot show two versions of
a query. Edit a SQL file or the layout below, then run::

    .venv/bin/python deploy/grafana/build.py

``tests/unit/config/test_grafana_files.py`` fails while the written files differ
from what this script would write; ``tests/integration/test_grafana_panels.py`` runs
every query against ClickHouse.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SQL_DIR = HERE / "sql"
DASHBOARD_DIR = HERE / "dashboards"
ANALYTICS_DOC = REPO / "docs" / "analytics.md"

PLUGIN_ID = "grafana-clickhouse-datasource"
PLUGIN_VERSION = "4.20.0"
GRAFANA_VERSION = "11.6.0"
DATASOURCE_UID = "loanwatch-clickhouse"
DATASOURCE = {"type": PLUGIN_ID, "uid": DATASOURCE_UID}

DOC_START = "<!-- grafana-sql:start (written by deploy/grafana/build.py) -->"
DOC_END = "<!-- grafana-sql:end -->"


def sql(name: str) -> str:
    """The text of ``sql/<name>.sql``, without its trailing newline."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8").rstrip("\n")


def _target(name: str, kind: str) -> dict[str, Any]:
    return {
        "refId": "A",
        "datasource": DATASOURCE,
        "editorType": "sql",
        "queryType": "timeSeries" if kind == "timeseries" else "table",  # the plugin's names
        "format": 0 if kind == "timeseries" else 1,  # sqlds: 0 time series, 1 table
        "pluginVersion": PLUGIN_VERSION,
        "rawSql": sql(name),
    }


def _panel(
    kind: str, sql_name: str, title: str, grid: tuple[int, int, int, int], **extra: Any
) -> dict[str, Any]:
    """A panel of ``kind`` (``timeseries`` or ``table``) over one SQL file's query."""
    x, y, w, h = grid
    return {
        "type": kind,
        "title": title,
        "description": extra.pop("description", ""),
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": extra.pop("defaults", {})},
        "targets": [_target(sql_name, kind)],
        "sql": sql_name,
        **extra,
    }


def _timeseries(
    sql_name: str, title: str, grid: tuple[int, int, int, int], **extra: Any
) -> dict[str, Any]:
    """A time series panel, one series per value of the query's string column."""
    drawn = {"drawStyle": "line", "fillOpacity": 20, "stacking": {"mode": "none"}}
    drawn.update(extra.pop("draw", {}))
    extra["defaults"] = {"custom": drawn, **extra.get("defaults", {})}
    extra["options"] = {"legend": {"displayMode": "table", "placement": "right"}}
    return _panel("timeseries", sql_name, title, grid, **extra)


def _table(
    sql_name: str, title: str, grid: tuple[int, int, int, int], **extra: Any
) -> dict[str, Any]:
    return _panel("table", sql_name, title, grid, **extra)


def _matrix(row: str, column: str, value: str) -> list[dict[str, Any]]:
    """Grafana's "grouping to matrix" transformation: one row per ``row`` value."""
    options = {"rowField": row, "columnField": column, "valueField": value}
    return [{"id": "groupingToMatrix", "options": options}]


def _query_variable(name: str, label: str) -> dict[str, Any]:
    query = sql(f"var_{name}")
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DATASOURCE,
        "query": query,
        "definition": query,
        "refresh": 2,  # on time range change: new loans bring new products and months
        "multi": True,
        "includeAll": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "sql": f"var_{name}",
    }


def _custom_variable(name: str, label: str, values: list[str], *, multi: bool) -> dict[str, Any]:
    chosen = values if multi else values[:1]
    return {
        "type": "custom",
        "name": name,
        "label": label,
        "query": ",".join(values),
        "multi": multi,
        "includeAll": False,
        "current": {"selected": True, "text": chosen, "value": chosen},
        "options": [{"selected": v in chosen, "text": v, "value": v} for v in values],
    }


BOOK_FILTERS = [
    _query_variable("product", "Product"),
    _query_variable("cohort", "Disbursement month"),
]


def portfolio() -> dict[str, Any]:
    state = _timeseries(
        "state_by_day",
        "${measure} by ${dimension}",
        (0, 0, 12, 10),
        description="Per day: loans (or their principal, minor units) in each delinquency "
        "bucket or five-category class. Repeated for each chosen dimension.",
        draw={"stacking": {"mode": "normal"}, "fillOpacity": 60},
        repeat="dimension",
        repeatDirection="h",
    )
    rolls = _table(
        "roll_rates",
        "Roll rates: bucket at the end of the month (rows) to the end of the next",
        (0, 10, 12, 10),
        description="For the last month whose next month ends within the range and the data.",
        defaults={"unit": "percentunit", "decimals": 1},
        transformations=_matrix("from_bucket", "to_bucket", "roll_rate"),
    )
    vintages = _table(
        "vintages",
        "Vintages: share ever 30+ DPD by months on book",
        (12, 10, 12, 10),
        defaults={"unit": "percentunit", "decimals": 1},
        transformations=_matrix("cohort", "mob", "bad_rate"),
    )
    return _dashboard(
        "loanwatch-portfolio",
        "Loanwatch: portfolio",
        [state, rolls, vintages],
        [
            *BOOK_FILTERS,
            _custom_variable("dimension", "Dimension", ["bucket", "klass"], multi=True),
            _custom_variable("measure", "Measure", ["loans", "principal"], multi=False),
        ],
    )


def warnings() -> dict[str, Any]:
    opened = _timeseries(
        "new_warnings",
        "Warnings opened per day, by severity and rule",
        (0, 0, 24, 9),
        draw={"drawStyle": "bars", "stacking": {"mode": "normal"}, "fillOpacity": 80},
    )
    still_open = _table("open_warnings", "Open warnings by rule and severity", (0, 9, 10, 10))
    riskiest = _table(
        "riskiest_loans",
        "Riskiest loans with open warnings",
        (10, 9, 14, 10),
        description="Most days past due first; the state is the one the latest warning carried.",
    )
    auc = _timeseries(
        "pd_auc",
        "PD model ROC AUC (each day's last checkpoint, per events partition)",
        (0, 19, 24, 8),
        defaults={"min": 0.5, "max": 1, "decimals": 3},
    )
    return _dashboard(
        "loanwatch-warnings",
        "Loanwatch: warnings and models",
        [opened, still_open, riskiest, auc],
        [*BOOK_FILTERS, _query_variable("team", "Owner team")],
    )


def _dashboard(
    uid: str, title: str, panels: list[dict[str, Any]], variables: list[dict[str, Any]]
) -> dict[str, Any]:
    for number, panel in enumerate(panels, start=1):
        panel["id"] = number
    return {
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": GRAFANA_VERSION},
            {
                "type": "datasource",
                "id": PLUGIN_ID,
                "name": "ClickHouse",
                "version": PLUGIN_VERSION,
            },
        ],
        "uid": uid,
        "title": title,
        "tags": ["loanwatch"],
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-90d", "to": "now"},
        "timezone": "",
        "templating": {"list": variables},
        "panels": panels,
    }


DASHBOARDS = {"portfolio.json": portfolio, "warnings.json": warnings}


def sql_names(dashboard: dict[str, Any]) -> list[str]:
    """The SQL files a dashboard uses, panels first, in order."""
    items = dashboard["panels"] + dashboard["templating"]["list"]
    return [item["sql"] for item in items if "sql" in item]


def rendered() -> dict[Path, str]:
    """Every file this script writes, by path, as it would write it."""
    out: dict[Path, str] = {}
    docs: list[str] = []
    listed: set[str] = set()
    for filename, build in DASHBOARDS.items():
        dashboard = build()
        names = sql_names(dashboard)
        for item in dashboard["panels"] + dashboard["templating"]["list"]:
            item.pop("sql", None)  # where the SQL came from: not Grafana's to keep
        out[DASHBOARD_DIR / filename] = json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n"
        for name in names:
            if name not in listed:  # a variable both dashboards share is listed once
                listed.add(name)
                docs.append(
                    f"[`{name}.sql`](../deploy/grafana/sql/{name}.sql) ({dashboard['title']}):"
                    f"\n\n```sql\n{sql(name)}\n```\n"
                )
    text = ANALYTICS_DOC.read_text(encoding="utf-8")
    section = f"{DOC_START}\n\n" + "\n".join(docs) + f"\n{DOC_END}"
    pattern = re.compile(re.escape(DOC_START) + ".*?" + re.escape(DOC_END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{ANALYTICS_DOC}: the grafana-sql markers are missing")
    out[ANALYTICS_DOC] = pattern.sub(lambda _: section, text)
    return out


def main() -> int:
    DASHBOARD_DIR.mkdir(exist_ok=True)
    for path, text in rendered().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
