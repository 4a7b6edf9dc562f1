"""Whether a loan exists, from the loan book the writer keeps (``loans``).

Redis holds a card only for loans something was raised about (a warning or a
bucket or class change), so ``loanwatch lookup`` of a quiet loan and of a loan
that never existed both found nothing there. The ``loans`` table has a row for
every disbursement the ClickHouse writer copied (sinks/clickhouse/book.py): it
tells the two apart.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from config import Settings

__all__ = ["disbursed_on", "loan_book"]


def disbursed_on(client: Any, loan_id: str) -> date | None:
    """The day ``loan_id`` was disbursed, or None when the loan book has no such loan."""
    rows = client.execute(
        "SELECT disbursed_on FROM loans WHERE loan_id = %(loan_id)s LIMIT 1",
        {"loan_id": loan_id},
    )
    return rows[0][0] if rows else None


def loan_book(settings: Settings, loan_id: str) -> str | None:
    """``disbursed <day>`` when the analysts' database knows ``loan_id``, else None.

    Connects for this one question; a failure (unreachable, no ``loans`` table yet)
    raises the driver's error for the caller to report.
    """
    from clickhouse_driver import Client

    client = Client(**settings.clickhouse.driver_kwargs())
    try:
        day = disbursed_on(client, loan_id)
    finally:
        client.disconnect()
    return None if day is None else f"disbursed {day.isoformat()}"
