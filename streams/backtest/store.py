"""A backtest run into ClickHouse: ``loanwatch backtest ... --to-clickhouse``.

`run_rows` (pure) turns a `BacktestReport` into one ``backtest_runs`` row and
its ``backtest_rule_results`` rows (sinks/clickhouse/backtest.py); `store_run`
inserts them. The results go first and the run row last: the documented
queries (docs/analytics.md) join results to their run, so a run whose write
failed half-way shows nothing, and writing it again under the same run id
completes it (the tables collapse copies by run id).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from config.settings import ClickHouseSettings
from sinks.clickhouse.backtest import BACKTEST_RULE_RESULTS, BACKTEST_RUNS
from sinks.clickhouse.dialect import Table
from streams.backtest.command import BacktestReport, PackRun
from streams.backtest.exceptions import BacktestError
from streams.backtest.metrics import SignalFigures

__all__ = ["RunRows", "new_run_id", "run_rows", "store_run"]

_UNKNOWN_TABLE = 60
_UNKNOWN_DATABASE = 81


def new_run_id(ran_at: datetime) -> str:
    """A fresh run id that sorts by time: ``bt-20240701T083000Z-1f2e3d4c``."""
    return f"bt-{ran_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class RunRows:
    """One run's rows, in the tables' column order."""

    run: tuple[Any, ...]
    results: list[tuple[Any, ...]]


def _result_row(
    head: tuple[Any, ...], kind: str, severity: str | None, f: SignalFigures
) -> tuple[Any, ...]:
    lead = f.lead_days
    return (
        *head,
        kind,
        f.name,
        severity,
        f.alerts,
        f.alerts_per_1k_loan_months,
        f.alerted_loans,
        f.judged_loans,
        f.hits,
        f.precision,
        f.lift,
        f.bad_loans,
        f.caught,
        f.recall,
        lead.p25 if lead else None,
        lead.median if lead else None,
        lead.p75 if lead else None,
        f.current_share,
        f.reports,
    )


def _side_rows(run_id: str, ran_at: datetime, side: str, run: PackRun) -> list[tuple[Any, ...]]:
    pack, evaluation = run.pack, run.evaluation
    head = (run_id, ran_at, side, pack.name, pack.version, pack.digest)
    severity_of: Mapping[str, str] = {rule.id: rule.severity for rule in pack.rules}
    rows = [
        _result_row(head, "rule", severity_of.get(name), f)
        for name, f in sorted(evaluation.rules.items())
    ]
    rows += [
        _result_row(head, "severity", name, f) for name, f in sorted(evaluation.severities.items())
    ]
    rows.append(_result_row(head, "paging", None, evaluation.paging))
    rows += [
        _result_row(head, "pd_threshold", None, f) for _, f in sorted(evaluation.thresholds.items())
    ]
    return rows


def run_rows(report: BacktestReport, run_id: str, ran_at: datetime) -> RunRows:
    """The report as rows; ``ran_at`` is when the run started (timezone-aware)."""
    candidate, against = report.candidate, report.against
    book = candidate.evaluation.book
    options = report.options
    other = against.pack if against is not None else None
    run = (
        run_id,
        ran_at,
        report.source,
        candidate.pack.name,
        candidate.pack.version,
        candidate.pack.digest,
        other.name if other else None,
        other.version if other else None,
        other.digest if other else None,
        options.horizon_days,
        options.outcome_dpd,
        int(options.models is not None),
        candidate.replay.events,
        len(report.bad_inputs),
        candidate.replay.refused,
        book.loans,
        book.loan_months,
        book.bad_loans,
        book.base_rate,
        sum(r.replay.elapsed_s for r in (candidate, against) if r is not None),
    )
    results = _side_rows(run_id, ran_at, "candidate", candidate)
    if against is not None:
        results += _side_rows(run_id, ran_at, "against", against)
    return RunRows(run, results)


def _insert(client: Any, database: str, table: Table, rows: list[tuple[Any, ...]]) -> None:
    columns = ", ".join(column.name for column in table.columns)
    client.execute(f"INSERT INTO {database}.{table.name} ({columns}) VALUES", rows)


def store_run(settings: ClickHouseSettings, rows: RunRows) -> None:
    """Insert one run's rows into ``settings.database`` (migrated: ``loanwatch db migrate``)."""
    from clickhouse_driver import Client
    from clickhouse_driver.errors import Error, ServerException

    where = f"ClickHouse {settings.host}:{settings.port}"
    client = Client(**settings.driver_kwargs())
    try:
        _insert(client, settings.database, BACKTEST_RULE_RESULTS, rows.results)
        _insert(client, settings.database, BACKTEST_RUNS, [rows.run])
    except ServerException as exc:
        if exc.code in (_UNKNOWN_TABLE, _UNKNOWN_DATABASE):
            raise BacktestError(
                f"{where} has no backtest tables in {settings.database}: "
                "run `loanwatch db migrate` first; the run was not stored"
            ) from exc
        raise BacktestError(f"{where} refused the run: {_first_line(exc.message)}") from exc
    except (Error, OSError) as exc:
        raise BacktestError(f"cannot store the run in {where}: {exc}") from exc
    finally:
        client.disconnect()


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
