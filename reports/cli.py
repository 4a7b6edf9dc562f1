"""The `loanwatch report` commands (mounted by streams/cli.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from config import load_settings
from reports.exceptions import ReportError
from reports.period import (
    Period,
    default_day,
    default_month,
    parse_day,
    parse_month,
)
from reports.runs import Run
from reports.text import LANGS, Lang

__all__ = ["report_app"]

report_app = typer.Typer(
    help="Daily on-call digest and monthly post-loan report from ClickHouse "
    "(HTML, XLSX, PDF; docs/reports.md).",
    no_args_is_help=True,
)
console = Console()

_Out = Annotated[Path, typer.Option("--out", help="Folder the files go to (made if missing).")]
_Lang = Annotated[str, typer.Option("--lang", help="Language of the text: en or zh-CN.")]
_Formats = Annotated[
    str, typer.Option("--formats", help="Comma-separated: any of html, xlsx, pdf.")
]


def _lang(value: str) -> Lang:
    for lang in LANGS:
        if value.lower() == lang.lower():
            return lang
    raise ReportError(f"--lang {value!r}: expected one of {', '.join(LANGS)}")


def _formats(value: str) -> list[str]:
    from reports.command import FORMATS

    chosen = [f.strip().lower() for f in value.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise ReportError(f"--formats {value!r}: expected some of {', '.join(FORMATS)}")
    return list(dict.fromkeys(chosen))


def _run(period: Period, out: Path, lang: str, formats: str) -> None:
    from reports.command import make_report

    settings = load_settings()
    with console.status(f"making the {period.kind} report for {period.name}..."):
        run = make_report(settings, period, out=out, lang=_lang(lang), formats=_formats(formats))
    _print(run)


def _print(run: Run) -> None:
    for path in run.files:
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)
    if run.status == "empty":
        console.print(
            f"[yellow]no data for {run.period.name}[/]: the report says so; "
            "is the ClickHouse writer running?",
            highlight=False,
        )
    console.print(f"recorded run {run.run_id} ({run.status}) in report_runs", highlight=False)


@report_app.command("daily")
def daily(
    out: _Out,
    day: Annotated[
        str | None,
        typer.Option(
            "--day", help="The day, YYYY-MM-DD [default: yesterday, LOANWATCH_TIME_ZONE]."
        ),
    ] = None,
    lang: _Lang = "en",
    formats: _Formats = "html,xlsx,pdf",
) -> None:
    """The on-call digest of one day: book quality, moves, warnings, actions, models."""
    zone = ZoneInfo(load_settings().time_zone)
    chosen = parse_day(day) if day else default_day(datetime.now(UTC), zone)
    _run(Period.daily(chosen, zone), out, lang, formats)


@report_app.command("monthly")
def monthly(
    out: _Out,
    month: Annotated[
        str | None, typer.Option("--month", help="The month, YYYY-MM [default: last month].")
    ] = None,
    lang: _Lang = "en",
    formats: _Formats = "html,xlsx,pdf",
) -> None:
    """The monthly post-loan report: quality, roll rates, vintages, rules, models, collection."""
    zone = ZoneInfo(load_settings().time_zone)
    chosen = parse_month(month) if month else default_month(datetime.now(UTC), zone)
    _run(Period.monthly(chosen, zone), out, lang, formats)
