"""The table of report runs (``loanwatch report daily|monthly``, docs/reports.md).

Written by the report command itself, once per run, whatever came of it: which
report (``kind``, ``period``), when it ran, the files it wrote, how many rows each
of its tables held, and ``status`` (``ok``, ``empty`` for a period with no data,
``failed`` with the reason in ``error``). A lender's auditors ask which report was
sent when and from what; this is where the answer is kept.

Identity is ``run_id`` (a new one per run); a run is one row, so the table is a
plain MergeTree ordered for "the runs of this kind and period", unpartitioned like
the backtest runs (a few rows a day).
"""

from __future__ import annotations

from sinks.clickhouse.dialect import Column, Kind, Table

__all__ = ["REPORT_RUNS"]

REPORT_RUNS = Table(
    "report_runs",
    (
        Column("run_id", Kind.STRING),
        Column("kind", Kind.LABEL),  # daily | monthly
        Column("period", Kind.STRING),  # 2026-11-03 | 2026-11
        Column("first_day", Kind.DAY),
        Column("last_day", Kind.DAY),
        Column("lang", Kind.LABEL),  # en | zh-CN
        Column("started_at", Kind.TIME),
        Column("finished_at", Kind.TIME),
        Column("status", Kind.LABEL),  # ok | empty | failed
        Column("files", Kind.STRING),  # JSON list of the paths written
        Column("row_counts", Kind.STRING),  # JSON object: table -> rows
        Column("error", Kind.STRING),  # why a failed run failed; empty otherwise
    ),
    order_by=("kind", "first_day", "run_id"),
)
