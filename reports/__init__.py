"""Reports for people from the analysts' ClickHouse: the daily digest and the monthly report.

`build_report` queries one period into a `Report` (reports/queries.py holds the
SQL); `render_html`, `write_xlsx` and `write_pdf` draw the same report three
ways; `make_report` (``loanwatch report daily|monthly``) does all of it and
records the run in ``report_runs``. docs/reports.md describes what each table means.
"""

from __future__ import annotations

from reports.build import build_report
from reports.command import make_report
from reports.exceptions import ReportError
from reports.html import render_html
from reports.model import Col, Fmt, Money, Report, Section
from reports.pdf import write_pdf
from reports.period import Period
from reports.runs import Run, record_run
from reports.text import LANGS, Lang
from reports.xlsx import write_xlsx

__all__ = [
    "LANGS",
    "Col",
    "Fmt",
    "Lang",
    "Money",
    "Period",
    "Report",
    "ReportError",
    "Run",
    "Section",
    "build_report",
    "make_report",
    "record_run",
    "render_html",
    "write_pdf",
    "write_xlsx",
]
