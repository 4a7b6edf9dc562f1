"""Which days a report covers, and when they begin and end in UTC.

A report speaks of the lender's business days (``LOANWATCH_TIME_ZONE``): the
transitions' and actions' days are already those, while warnings carry instants,
so a period is also given as the UTC instants its first day starts and the day
after its last starts.

>>> p = Period.daily(date(2026, 11, 3), ZoneInfo("Asia/Shanghai"))
>>> p.name, p.first_day, p.last_day, p.starts, p.ends
('2026-11-03', datetime.date(2026, 11, 3), datetime.date(2026, 11, 3), '2026-11-02 16:00:00', '2026-11-03 16:00:00')
>>> Period.monthly(parse_month("2026-02"), ZoneInfo("UTC")).last_day
datetime.date(2026, 2, 28)
"""  # noqa: E501

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from reports.exceptions import ReportError

__all__ = ["Period", "ReportKind", "default_day", "default_month", "parse_day", "parse_month"]

ReportKind = Literal["daily", "monthly"]


@dataclass(frozen=True, slots=True)
class Period:
    kind: ReportKind
    name: str  # 2026-11-03 or 2026-11: what the files and the runs table call it
    first_day: date
    last_day: date
    starts: str  # UTC, "YYYY-MM-DD HH:MM:SS": the instant the first day begins
    ends: str  # UTC: the instant the day after the last begins

    @classmethod
    def daily(cls, day: date, zone: ZoneInfo) -> Period:
        return cls("daily", day.isoformat(), day, day, *_bounds(day, day, zone))

    @classmethod
    def monthly(cls, first: date, zone: ZoneInfo) -> Period:
        last = _next_month(first) - timedelta(days=1)
        return cls("monthly", first.strftime("%Y-%m"), first, last, *_bounds(first, last, zone))

    @property
    def previous_month_end(self) -> date:
        """The day before the period's month began: where the roll-rate matrix starts."""
        return self.first_day.replace(day=1) - timedelta(days=1)


def _bounds(first: date, last: date, zone: ZoneInfo) -> tuple[str, str]:
    def utc(day: date) -> str:
        return datetime.combine(day, time(0), zone).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    return utc(first), utc(last + timedelta(days=1))


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def parse_day(text: str) -> date:
    """``--day``: an ISO date; the error names the option."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReportError(f"--day {text!r}: expected a date as YYYY-MM-DD") from None


def parse_month(text: str) -> date:
    """``--month``: ``YYYY-MM``, as the first day of that month."""
    try:
        return datetime.strptime(text, "%Y-%m").date()  # noqa: DTZ007 - a calendar month
    except ValueError:
        raise ReportError(f"--month {text!r}: expected a month as YYYY-MM") from None


def default_day(now: datetime, zone: ZoneInfo) -> date:
    """Yesterday in the lender's zone: the last whole day an on-call digest can cover."""
    return now.astimezone(zone).date() - timedelta(days=1)


def default_month(now: datetime, zone: ZoneInfo) -> date:
    """The first day of last month in the lender's zone: the last whole month."""
    this = now.astimezone(zone).date().replace(day=1)
    return (this - timedelta(days=1)).replace(day=1)
