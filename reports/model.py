"""What a report holds, apart from how it is drawn: sections of typed columns.

The renderers (HTML, XLSX, PDF) read the same `Report`, so the three files can
never disagree on a number; each column's `Fmt` says how a value is shown
(money with its currency, shares as percentages, labels translated).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from reports.period import Period

__all__ = ["Col", "Fmt", "Money", "Report", "Section"]


class Fmt(StrEnum):
    TEXT = "text"
    INT = "int"
    MONEY = "money"  # a `Money`
    RATE = "rate"  # a share, 0..1, shown as a percentage
    FIGURE = "figure"  # a model figure, four decimals
    DAY = "day"
    INSTANT = "instant"  # an aware datetime, shown in the lender's zone
    BOOL = "bool"


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in integer minor units of its currency (never a float)."""

    minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class Col:
    key: str  # text key col.<key>
    fmt: Fmt
    family: str | None = None  # translate values as labels of this family (klass, severity)


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # section.<key>, and the XLSX sheet's name
    columns: tuple[Col, ...]
    rows: tuple[tuple[Any, ...], ...]
    note: str | None = None  # text key of the line under the title
    chart: str | None = None  # which chart draws it (reports/charts.py)


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    generated_at: datetime
    data_last_day: date | None
    database: str
    sections: tuple[Section, ...]
    empty: bool

    def row_counts(self) -> dict[str, int]:
        """Rows per table: what the runs table records."""
        return {section.key: len(section.rows) for section in self.sections}

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)
