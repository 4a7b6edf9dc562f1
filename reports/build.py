"""A `Report` from ClickHouse: run the period's queries, shape their rows into sections.

The numbers come from the SQL (reports/queries.py) as they are; Python only adds
shares whose denominator is another row (a bucket's share of the book, a roll
rate's cohort) and orders labels by their meaning rather than alphabetically.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from reports.model import Col, Fmt, Money, Report, Section
from reports.period import Period
from reports.queries import DATA_LAST_DAY, Executes, run_query
from rules.policy import KLASSES

__all__ = ["build_report"]

_BUCKETS = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "M6+")
_Rows = list[tuple[Any, ...]]


def _order(labels: tuple[str, ...]) -> Callable[[str], tuple[int, str]]:
    """Known labels in their own order, unknown ones after them, alphabetically."""
    return lambda value: (labels.index(value) if value in labels else len(labels), value)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _portfolio(key: str, rows: _Rows, labels: tuple[str, ...], column: Col) -> Section:
    total = sum(r[2] for r in rows)
    order = _order(labels)
    shaped = sorted(
        ((lab, n, _share(n, total), Money(minor, cur)) for lab, cur, n, minor in rows),
        key=lambda r: (r[3].currency, order(r[0])),
    )
    cols = (column, Col("loans", Fmt.INT), Col("share", Fmt.RATE), Col("principal", Fmt.MONEY))
    return Section(key, cols, tuple(shaped), "note.portfolio", chart="bars")


def _migrations(rows: _Rows) -> Section:
    cols = (
        Col("kind", Fmt.TEXT, "kind"),
        Col("from", Fmt.TEXT, "klass"),
        Col("to", Fmt.TEXT, "klass"),
        Col("loans", Fmt.INT),
    )
    return Section("migrations", cols, tuple(rows))


def _roll_rates(rows: _Rows) -> Section:
    cohorts: Counter[str] = Counter()
    for from_bucket, _, n in rows:
        cohorts[from_bucket] += n
    order = _order(_BUCKETS)
    shaped = sorted(
        ((a, b, n, _share(n, cohorts[a])) for a, b, n in rows),
        key=lambda r: (order(r[0]), order(r[1])),
    )
    cols: tuple[Col, ...] = (Col("from", Fmt.TEXT), Col("to", Fmt.TEXT), Col("loans", Fmt.INT))
    cols += (Col("roll_rate", Fmt.RATE),)
    return Section("roll_rates", cols, tuple(shaped), "note.roll_rates", chart="matrix")


def _vintages(rows: _Rows) -> Section:
    shaped = tuple(
        (cohort.strftime("%Y-%m"), mob, loans, bad, _share(bad, loans))
        for cohort, mob, loans, bad in rows
    )
    cols: tuple[Col, ...] = (Col("cohort", Fmt.TEXT), Col("mob", Fmt.INT), Col("loans", Fmt.INT))
    cols += (Col("bad", Fmt.INT), Col("bad_rate", Fmt.RATE))
    return Section("vintages", cols, shaped, "note.vintages", chart="curves")


def _warnings_by_rule(rows: _Rows) -> Section:
    cols = (
        Col("rule", Fmt.TEXT),
        Col("severity", Fmt.TEXT, "severity"),
        Col("opened", Fmt.INT),
        Col("loans", Fmt.INT),
        Col("resolved", Fmt.INT),
        Col("bad_loans", Fmt.INT),
    )
    return Section("warnings_by_rule", cols, tuple(rows), chart="hbars")


def _top_warnings(rows: _Rows) -> Section:
    shaped = tuple(
        (at, rule, sev, loan, dpd, bucket, None if score < 0 else score, end, bool(resolved))
        for at, rule, sev, loan, dpd, bucket, score, end, resolved in rows
    )
    cols = (
        Col("opened_at", Fmt.INSTANT),
        Col("rule", Fmt.TEXT),
        Col("severity", Fmt.TEXT, "severity"),
        Col("loan", Fmt.TEXT),
        Col("dpd", Fmt.INT),
        Col("bucket", Fmt.TEXT),
        Col("score", Fmt.FIGURE),
        Col("end_bucket", Fmt.TEXT),
        Col("resolved", Fmt.BOOL),
    )
    return Section("top_warnings", cols, shaped, "note.top_warnings")


def _rule_precision(rows: _Rows) -> Section:
    shaped = tuple((rule, n, bad, _share(bad, n)) for rule, n, bad in rows)
    cols: tuple[Col, ...] = (
        Col("rule", Fmt.TEXT),
        Col("warned_loans", Fmt.INT),
        Col("went_bad", Fmt.INT),
    )
    cols += (Col("precision", Fmt.RATE),)
    return Section("rule_precision", cols, shaped, "note.rule_precision")


def _change(end: float | None, first: float | None) -> float | None:
    return None if end is None or first is None else end - first


def _model_metrics(rows: _Rows) -> Section:
    shaped = tuple(
        (model, part, n, auc, _change(auc, auc0), brier, _change(brier, brier0), prec, acc)
        for model, part, n, auc, brier, prec, acc, auc0, brier0, _ in rows
    )
    cols: tuple[Col, ...] = (
        Col("model", Fmt.TEXT),
        Col("partition", Fmt.INT),
        Col("labels", Fmt.INT),
    )
    cols += tuple(
        Col(key, Fmt.FIGURE)
        for key in ("roc_auc", "auc_change", "brier", "brier_change", "precision", "accuracy")
    )
    return Section("model_metrics", cols, shaped, "note.model_metrics")


def _collections(rows: _Rows) -> Section:
    shaped = tuple((k, name, n, loans, cur, _share(cur, loans)) for k, name, n, loans, cur in rows)
    cols = (
        Col("kind", Fmt.TEXT, "kind"),
        Col("step", Fmt.TEXT),
        Col("actions", Fmt.INT),
        Col("loans", Fmt.INT),
        Col("current_at_end", Fmt.INT),
        Col("current_share", Fmt.RATE),
    )
    return Section("collections", cols, shaped, "note.collections")


def _drifts(rows: _Rows) -> Section:
    return Section(
        "drifts", (Col("detected_at", Fmt.INSTANT), Col("message", Fmt.TEXT)), tuple(rows)
    )


def _summary(parts: dict[str, Section]) -> Section:
    """The headline figures, each taken from a section below it."""
    buckets, classes = parts["portfolio_buckets"].rows, parts["portfolio_classes"].rows
    loans = sum(r[1] for r in buckets)
    by_currency: Counter[str] = Counter()
    for row in buckets:
        by_currency[row[3].currency] += row[3].minor
    late = sum(r[1] for r in buckets if r[0] != "M0")
    dpd30 = sum(r[1] for r in buckets if r[0] not in ("M0", "M1"))
    non_normal = sum(r[1] for r in classes if r[0] != "normal")
    opened = parts["warnings_by_rule"].rows
    rows: list[tuple[Any, ...]] = [("summary.loans", loans, Fmt.INT)]
    rows += [("summary.principal", Money(m, c), Fmt.MONEY) for c, m in sorted(by_currency.items())]
    rows += [
        ("summary.delinquent", _share(late, loans), Fmt.RATE),
        ("summary.dpd30", _share(dpd30, loans), Fmt.RATE),
        ("summary.non_normal", _share(non_normal, loans), Fmt.RATE),
        ("summary.warnings", sum(r[2] for r in opened), Fmt.INT),
        ("summary.paging", sum(r[2] for r in opened if r[1] in ("critical", "high")), Fmt.INT),
        (
            "summary.moves",
            sum(r[3] for r in parts["migrations"].rows if r[0] == "bucket"),
            Fmt.INT,
        ),
        ("summary.actions", sum(r[2] for r in parts["collections"].rows), Fmt.INT),
    ]
    return Section("summary", (Col("metric", Fmt.TEXT), Col("value", Fmt.TEXT)), tuple(rows))


_DAILY = (
    "portfolio_buckets",
    "portfolio_classes",
    "migrations",
    "warnings_by_rule",
    "top_warnings",
    "collections",
    "model_metrics",
    "drifts",
)
_MONTHLY = (
    "portfolio_buckets",
    "portfolio_classes",
    "migrations",
    "roll_rates",
    "vintages",
    "warnings_by_rule",
    "top_warnings",
    "rule_precision",
    "collections",
    "model_metrics",
    "drifts",
)

_SHAPE: dict[str, Callable[[_Rows], Section]] = {
    "portfolio_buckets": lambda r: _portfolio(
        "portfolio_buckets", r, _BUCKETS, Col("bucket", Fmt.TEXT)
    ),
    "portfolio_classes": lambda r: _portfolio(
        "portfolio_classes", r, KLASSES, Col("klass", Fmt.TEXT, "klass")
    ),
    "migrations": _migrations,
    "roll_rates": _roll_rates,
    "vintages": _vintages,
    "warnings_by_rule": _warnings_by_rule,
    "top_warnings": _top_warnings,
    "rule_precision": _rule_precision,
    "model_metrics": _model_metrics,
    "collections": _collections,
    "drifts": _drifts,
}


def build_report(client: Executes, period: Period, *, database: str, now: datetime) -> Report:
    """Query ClickHouse for ``period`` and shape the answer; no files are written here."""
    names = _DAILY if period.kind == "daily" else _MONTHLY
    parts = {name: _SHAPE[name](run_query(client, name, period)) for name in names}
    last: date | None = client.execute(DATA_LAST_DAY)[0][0]
    data_last_day = None if last is None or last.toordinal() <= 719163 else last  # 1970-01-01
    activity = ("migrations", "warnings_by_rule", "collections", "drifts")
    empty = not parts["portfolio_buckets"].rows and not any(parts[n].rows for n in activity)
    return Report(
        period=period,
        generated_at=now,
        data_last_day=data_last_day,
        database=database,
        sections=(_summary(parts), *parts.values()),
        empty=empty,
    )
