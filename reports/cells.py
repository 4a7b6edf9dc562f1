"""A value as a person reads it, in one place for the HTML and the PDF.

>>> from reports.model import Col, Fmt, Money, Report
>>> from zoneinfo import ZoneInfo
>>> shown = lambda v, c, lang="en": cell_text(v, c, lang, ZoneInfo("Asia/Shanghai"))
>>> shown(Money(164031000, "CNY"), Col("principal", Fmt.MONEY))
'CNY 1,640,310.00'
>>> shown(0.04166, Col("share", Fmt.RATE)), shown(None, Col("share", Fmt.RATE))
('4.17%', '–')
>>> shown("special_mention", Col("klass", Fmt.TEXT, "klass"), "zh-CN")
'关注'
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from reports.model import Col, Fmt, Money, Report
from reports.text import Lang, label, text
from rules.money import format_money

__all__ = ["banner_lines", "cell_text", "meta_rows", "summary_text"]

_NONE = "–"


def cell_text(value: Any, col: Col, lang: Lang, zone: ZoneInfo) -> str:
    """``value`` of column ``col`` for a reader of ``lang``; times in the lender's zone."""
    if value is None:
        return _NONE
    if col.fmt is Fmt.MONEY and isinstance(value, Money):
        return format_money(value.minor, value.currency)
    if col.fmt is Fmt.RATE:
        return f"{100 * value:.2f}%"
    if col.fmt is Fmt.FIGURE:
        return f"{value:+.4f}" if col.key.endswith("_change") else f"{value:.4f}"
    if col.fmt is Fmt.INT:
        return f"{value:,}"
    if col.fmt is Fmt.BOOL:
        return text(lang, "yes" if value else "no")
    if col.fmt is Fmt.INSTANT and isinstance(value, datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return label(lang, col.family, str(value)) if col.family else str(value)


def summary_text(row: tuple[Any, ...], lang: Lang, zone: ZoneInfo) -> tuple[str, str]:
    """A summary row (text key, value, format) as (measure, value)."""
    key, value, fmt = row
    return text(lang, key), cell_text(value, Col(key, fmt), lang, zone)


def meta_rows(report: Report, lang: Lang, zone: ZoneInfo) -> list[tuple[str, str]]:
    """What the report is about, as (label, value): period, when, data up to, source."""
    last = report.data_last_day
    generated = report.generated_at.astimezone(zone).isoformat("T", "seconds")
    return [
        (text(lang, "meta.period"), f"{report.period.first_day} – {report.period.last_day}"),
        (text(lang, "meta.generated"), generated),
        (
            text(lang, "meta.data_last_day"),
            last.isoformat() if last else text(lang, "meta.no_data_day"),
        ),
        (text(lang, "meta.database"), f"ClickHouse {report.database}"),
    ]


def banner_lines(report: Report, lang: Lang) -> list[str]:
    """What a reader must know before the figures: an empty period, a period past the data."""
    lines = []
    if report.empty:
        lines.append(text(lang, "empty"))
    last = report.data_last_day
    if not report.empty and last is not None and report.period.last_day > last:
        lines.append(text(lang, "after_data").format(day=last.isoformat()))
    return lines
