"""The report as a workbook for analysts: one sheet per table, values as numbers.

Cells hold numbers, not text, so a sheet can be summed and pivoted: money is the
amount in major units as a Decimal (never a float) with its currency in the cell's
number format, shares are fractions formatted as percentages, times are naive
datetimes in the lender's zone (Excel has no time zones). Sheet names are the
tables' stable keys, whatever the language; the header row is in the language asked.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import Cell, MergedCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from reports.cells import banner_lines, meta_rows
from reports.model import Col, Fmt, Money, Report, Section
from reports.text import Lang, label, text
from rules.money import minor_digits

__all__ = ["write_xlsx"]

_BOLD = Font(bold=True)


def _money_format(currency: str) -> str:
    digits = minor_digits(currency)
    return f'"{currency}" #,##0' + ("." + "0" * digits if digits else "")


def _put(cell: Cell | MergedCell, value: Any, col: Col, lang: Lang, zone: ZoneInfo) -> None:
    if isinstance(value, Money):
        cell.value = Decimal(value.minor).scaleb(-minor_digits(value.currency))
        cell.number_format = _money_format(value.currency)
    elif col.fmt is Fmt.RATE and value is not None:
        cell.value = value
        cell.number_format = "0.00%"
    elif col.fmt is Fmt.FIGURE and value is not None:
        cell.value = value
        cell.number_format = "0.0000"
    elif col.fmt is Fmt.INSTANT and value is not None:
        cell.value = value.astimezone(zone).replace(tzinfo=None)
        cell.number_format = "yyyy-mm-dd hh:mm"
    elif col.fmt is Fmt.BOOL:
        cell.value = text(lang, "yes" if value else "no")
    elif col.family and isinstance(value, str):
        cell.value = label(lang, col.family, value)
    else:
        cell.value = value


def _sheet(sheet: Worksheet, section: Section, lang: Lang, zone: ZoneInfo) -> None:
    if section.key == "summary":
        columns: tuple[Col, ...] = (Col("metric", Fmt.TEXT), Col("value", Fmt.TEXT))
        rows = [(text(lang, k), v) for k, v, _ in section.rows]
        kinds = [Col(k, fmt) for k, _, fmt in section.rows]
    else:
        columns, rows, kinds = section.columns, list(section.rows), []
    sheet.append([text(lang, "col." + c.key) for c in columns])
    for cell in sheet[1]:
        cell.font = _BOLD
    for r, row in enumerate(rows, start=2):
        for c, (value, col) in enumerate(zip(row, columns, strict=True), start=1):
            if kinds and c == 2:
                col = kinds[r - 2]
            _put(sheet.cell(row=r, column=c), value, col, lang, zone)
    sheet.freeze_panes = "A2"
    for c, col in enumerate(columns, start=1):
        width = max(len(text(lang, "col." + col.key)) + 4, 12)
        sheet.column_dimensions[get_column_letter(c)].width = width


def write_xlsx(report: Report, lang: Lang, zone: ZoneInfo, path: Path) -> None:
    """Write ``report`` to ``path``: an ``about`` sheet, then one sheet per table."""
    book = Workbook()
    about = book.create_sheet("about", 0)
    book.remove(book.worksheets[1])  # the blank sheet every new workbook starts with
    about.append([text(lang, "report." + report.period.kind), report.period.name])
    for row in meta_rows(report, lang, zone):
        about.append(list(row))
    for line in banner_lines(report, lang):
        about.append([line])
    for section in report.sections:
        _sheet(book.create_sheet(section.key), section, lang, zone)
    book.save(path)
