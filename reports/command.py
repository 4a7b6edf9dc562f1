"""`loanwatch report daily|monthly`: query, write the files, record the run.

The one-shot command's contract (README, "When a service cannot be reached"):
ClickHouse unreachable is one line and exit 69; a database not migrated yet, a
bad period or an unwritable folder is one line naming it and exit 2.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from config import Settings
from config.outage import clickhouse_errors, exits_when_unreachable
from reports.build import build_report
from reports.exceptions import ReportError
from reports.html import render_html
from reports.model import Report
from reports.pdf import write_pdf
from reports.period import Period
from reports.runs import Run, record_run
from reports.text import Lang
from reports.xlsx import write_xlsx

__all__ = ["FORMATS", "make_report"]

_UNMIGRATED = frozenset({60, 81})  # UNKNOWN_TABLE, UNKNOWN_DATABASE


def _html(report: Report, lang: Lang, zone: ZoneInfo, path: Path) -> None:
    path.write_text(render_html(report, lang, zone), encoding="utf-8")


FORMATS: dict[str, Callable[[Report, Lang, ZoneInfo, Path], None]] = {
    "html": _html,
    "xlsx": write_xlsx,
    "pdf": write_pdf,
}


def _write(report: Report, lang: Lang, zone: ZoneInfo, out: Path, formats: list[str]) -> list[Path]:
    written = []
    for fmt in formats:
        path = out / f"loanwatch-{report.period.kind}-{report.period.name}.{lang}.{fmt}"
        FORMATS[fmt](report, lang, zone, path)
        written.append(path)
    return written


def make_report(
    settings: Settings,
    period: Period,
    *,
    out: Path,
    lang: Lang,
    formats: list[str],
    now: datetime | None = None,
) -> Run:
    """Make one report; returns the recorded run. Raises `ReportError` or `ServiceUnavailable`."""
    from clickhouse_driver import Client
    from clickhouse_driver.errors import ServerException

    started = now or datetime.now(UTC)
    zone = ZoneInfo(settings.time_zone)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
    ch = settings.clickhouse
    client: Any = Client(**ch.driver_kwargs())
    try:
        with exits_when_unreachable("ClickHouse", ch.address(), clickhouse_errors()):
            try:
                report = build_report(client, period, database=ch.database, now=started)
            except ServerException as exc:
                if exc.code in _UNMIGRATED:
                    raise ReportError(
                        f"ClickHouse database {ch.database} at {ch.address()} lacks the "
                        "report's tables; run `loanwatch db migrate` first"
                    ) from None
                raise
            try:
                files = _write(report, lang, zone, out, formats)
            except OSError as exc:
                failed = Run(period, lang, started, datetime.now(UTC), "failed", error=str(exc))
                record_run(client, failed)
                raise ReportError(f"--out {out}: cannot write the report ({exc})") from None
            run = Run(
                period,
                lang,
                started,
                datetime.now(UTC),
                "empty" if report.empty else "ok",
                tuple(files),
                report.row_counts(),
            )
            record_run(client, run)
    finally:
        client.disconnect()
    return run
