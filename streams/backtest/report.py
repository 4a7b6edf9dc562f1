"""A backtest's figures as rich tables for people and as JSON for machines.

Both views show the same numbers: `report_obj` is the JSON document (written
by ``--json``), and the tables are drawn from the same `BacktestReport`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from streams.backtest.command import BacktestReport, PackRun
from streams.backtest.history import BadLine, BadMessage
from streams.backtest.metrics import SignalFigures, Spread
from streams.backtest.replay import ReplayResult

__all__ = ["render", "report_json", "report_obj"]

_SHOWN_BAD_INPUTS = 10


def _replay_obj(replay: ReplayResult) -> dict[str, Any]:
    return {
        "events": replay.events,
        "ticks": replay.ticks,
        "first_day": replay.first_day,
        "last_day": replay.last_day,
        "refused": replay.refused,
        "refusals": replay.refusals,
        "duplicates": replay.duplicates,
        "drift_warnings": replay.drift_warnings,
        "elapsed_s": round(replay.elapsed_s, 3),
        "events_per_s": round(replay.events_per_s),
    }


def _run_obj(run: PackRun) -> dict[str, Any]:
    evaluation = run.evaluation
    return {
        "pack": {"name": run.pack.name, "version": run.pack.version, "digest": run.pack.digest},
        "replay": _replay_obj(run.replay),
        "book": evaluation.book,
        "rules": evaluation.rules,
        "severities": evaluation.severities,
        "paging": evaluation.paging,
        "pd_thresholds": evaluation.thresholds,
        "budget": run.budget,
    }


def report_obj(report: BacktestReport) -> dict[str, Any]:
    """The report as plain data (dataclasses and dates are left to orjson)."""
    options = report.options
    return {
        "source": report.source,
        "horizon_days": options.horizon_days,
        "outcome_dpd": options.outcome_dpd,
        "models": options.models is not None,
        "bad_lines": [bad.as_json() for bad in report.bad_inputs if isinstance(bad, BadLine)],
        "bad_messages": [bad.as_json() for bad in report.bad_inputs if isinstance(bad, BadMessage)],
        "candidate": _run_obj(report.candidate),
        "against": _run_obj(report.against) if report.against is not None else None,
    }


def report_json(report: BacktestReport) -> bytes:
    return orjson.dumps(report_obj(report), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}" if value >= 0.1 else f"{value:.1%}"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _lead(spread: Spread | None) -> str:
    if spread is None:
        return "-"
    return f"{spread.median:g} ({spread.p25:g}-{spread.p75:g})"


def _signals_table(title: str, rows: Iterable[SignalFigures]) -> Table:
    table = Table(
        "signal",
        "alerts",
        "/1k loan-mo",
        "loans",
        "judged",
        "precision",
        "lift",
        "recall",
        "lead d med (q1-q3)",
        "at DPD 0",
        "reports",
        title=title,
        title_justify="left",
    )
    for f in rows:
        table.add_row(
            f.name,
            f"{f.alerts:,}",
            _num(f.alerts_per_1k_loan_months, 1),
            f"{f.alerted_loans:,}",
            f"{f.judged_loans:,}",
            _pct(f.precision),
            _num(f.lift),
            f"{_pct(f.recall)} ({f.caught}/{f.bad_loans})",
            _lead(f.lead_days),
            _pct(f.current_share),
            f"{f.reports:,}",
        )
    return table


def _summary(report: BacktestReport, run: PackRun) -> Table:
    replay, book = run.replay, run.evaluation.book
    options = report.options
    table = Table(show_header=False, title=f"backtest of {report.source}", title_justify="left")
    table.add_row("pack", f"{run.pack.name} v{run.pack.version} ({run.pack.digest[:12]})")
    table.add_row("history", f"{replay.first_day} .. {replay.last_day}")
    table.add_row(
        "replayed",
        f"{replay.events:,} events, {replay.ticks:,} ticks in {replay.elapsed_s:.2f}s "
        f"({replay.events_per_s:,.0f} events/s){' with models' if options.models else ''}",
    )
    table.add_row("bad inputs / refused", f"{len(report.bad_inputs):,} / {replay.refused:,}")
    table.add_row("loans / loan-months", f"{book.loans:,} / {book.loan_months:,.0f}")
    table.add_row(
        f"bad (DPD {options.outcome_dpd}+ or written off)",
        f"{book.bad_loans:,} loans; within {options.horizon_days} d of a random at-risk "
        f"loan-day: {_pct(book.base_rate)} (the base rate)",
    )
    return table


def _budget_table(run: PackRun) -> Table | None:
    view = run.budget
    if view is None:
        return None
    table = Table(
        "rule",
        "/1k loan-mo",
        "lift",
        "precision",
        "recall",
        "lead d",
        title=f"alert budget: {view.budget_per_1k_loan_months:g} per 1,000 loan-months "
        "(rules by lift)",
        title_justify="left",
    )
    for f in view.chosen:
        table.add_row(
            f.name,
            _num(f.alerts_per_1k_loan_months, 1),
            _num(f.lift),
            _pct(f.precision),
            _pct(f.recall),
            _lead(f.lead_days),
        )
    t = view.together
    table.add_row(
        "[bold]together[/]",
        _num(t.alerts_per_1k_loan_months, 1),
        _num(t.lift),
        _pct(t.precision),
        _pct(t.recall),
        _lead(t.lead_days),
    )
    return table


def _change(before: float | None, after: float | None, show: Callable[[Any], str]) -> str:
    if before == after:
        return show(after)
    return f"{show(before)} -> {show(after)}"


def _comparison(report: BacktestReport) -> Table | None:
    other = report.against
    if other is None:
        return None
    mine = report.candidate.evaluation
    theirs = other.evaluation
    table = Table(
        "signal",
        "/1k loan-mo",
        "precision",
        "lift",
        "recall",
        "median lead d",
        title=f"{other.pack.name} v{other.pack.version} -> "
        f"{report.candidate.pack.name} v{report.candidate.pack.version} (changed rows)",
        title_justify="left",
    )
    names = sorted(theirs.rules.keys() | mine.rules.keys())
    rows = [(n, theirs.rules.get(n), mine.rules.get(n)) for n in names]
    rows.append(("paging", theirs.paging, mine.paging))
    for name, a, b in rows:
        if a is not None and b is not None and a == b and name != "paging":
            continue
        pairs = [
            (getattr(a, key, None), getattr(b, key, None))
            for key in ("alerts_per_1k_loan_months", "precision", "lift", "recall")
        ]
        leads = [f.lead_days.median if f and f.lead_days else None for f in (a, b)]
        label = name if a and b else f"{name} ({'new' if b else 'removed'})"
        table.add_row(
            label,
            _change(*pairs[0], lambda v: _num(v, 1)),
            _change(*pairs[1], _pct),
            _change(*pairs[2], _num),
            _change(*pairs[3], _pct),
            _change(leads[0], leads[1], lambda v: _num(v, 0)),
        )
    return table


def render(report: BacktestReport, console: Console) -> None:
    """Print the report's tables: summary, signals, budget, comparison, bad inputs."""
    run = report.candidate
    evaluation = run.evaluation
    console.print(_summary(report, run))
    fired = [f for f in evaluation.rules.values() if f.alerts]
    silent = sorted(f.name for f in evaluation.rules.values() if not f.alerts)
    console.print(_signals_table("rules (that alerted)", fired))
    if silent:
        console.print("silent rules: " + ", ".join(silent), highlight=False)
    groups = [*evaluation.severities.values(), evaluation.paging]
    console.print(_signals_table("severities, and paging (high + critical)", groups))
    if evaluation.thresholds:
        console.print(_signals_table("model PD thresholds", evaluation.thresholds.values()))
    for table in (_budget_table(run), _comparison(report)):
        if table is not None:
            console.print(table)
    for bad in report.bad_inputs[:_SHOWN_BAD_INPUTS]:
        console.print(f"bad {bad.place}: {bad.reason}", highlight=False, soft_wrap=True)
    if len(report.bad_inputs) > _SHOWN_BAD_INPUTS:
        more = len(report.bad_inputs) - _SHOWN_BAD_INPUTS
        console.print(f"... and {more:,} more bad inputs", highlight=False)
