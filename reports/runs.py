"""Recording each report run in ``report_runs`` (sinks/clickhouse/reports.py).

A run is recorded whatever came of it, so "was last month's report made, and
from what" has an answer even for a run that failed half-way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import orjson

from reports.period import Period
from reports.queries import Executes
from reports.text import Lang
from sinks.clickhouse.reports import REPORT_RUNS

__all__ = ["Run", "record_run"]

Status = Literal["ok", "empty", "failed"]


@dataclass(frozen=True, slots=True)
class Run:
    period: Period
    lang: Lang
    started_at: datetime
    finished_at: datetime
    status: Status
    files: tuple[Path, ...] = ()
    row_counts: dict[str, int] = field(default_factory=dict)
    error: str = ""
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def row(self) -> tuple[Any, ...]:
        """The run as a row of ``report_runs``, in column order."""
        return (
            self.run_id,
            self.period.kind,
            self.period.name,
            self.period.first_day,
            self.period.last_day,
            self.lang,
            self.started_at,
            self.finished_at,
            self.status,
            orjson.dumps([str(p) for p in self.files]).decode(),
            orjson.dumps(self.row_counts).decode(),
            self.error,
        )


def record_run(client: Executes, run: Run) -> None:
    """Insert one row into ``report_runs`` of the client's database."""
    names = ", ".join(c.name for c in REPORT_RUNS.columns)
    client.execute(f"INSERT INTO {REPORT_RUNS.name} ({names}) VALUES", [run.row()])  # noqa: S608 - our names
