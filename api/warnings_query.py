"""``GET /v1/warnings`` as one ClickHouse query: filters, newest first, keyset pages.

Pure: builds the SQL and its parameters, and the opaque cursor. Keyset rather than
OFFSET, so a page costs the same however deep, and rows written meanwhile neither
repeat nor vanish between pages. The order is (event second, warning id, status), all
descending; seconds because 18.16 stores ``DateTime`` to the second, so the same
cursor works on every server. Values travel as driver parameters, never in the text.

>>> cursor = encode_cursor(1712300000, "w1", "open")
>>> decode_cursor(cursor)
(1712300000, 'w1', 'open')
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from api.exceptions import Problem

__all__ = ["COLUMNS", "WarningFilter", "build_query", "decode_cursor", "encode_cursor"]

COLUMNS = (
    "warning_id", "status", "loan_id", "borrower_id", "rule_id", "rule_version", "severity",
    "owner_team", "message", "episode", "reasons", "score", "dpd", "bucket", "klass",
    "event_time", "produced_at",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class WarningFilter:
    rule: str | None = None
    severity: str | None = None
    status: str | None = None
    team: str | None = None
    loan_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    cursor: str | None = None
    limit: int = 100


def encode_cursor(second: int, warning_id: str, status: str) -> str:
    raw = orjson.dumps([second, warning_id, status])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[int, str, str]:
    """The position a cursor names; a 400 naming ``cursor`` for anything we did not issue."""
    try:
        value = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        value = None
    if (
        isinstance(value, list)
        and len(value) == 3
        and isinstance(value[0], int)
        and isinstance(value[1], str)
        and isinstance(value[2], str)
    ):
        return value[0], value[1], value[2]
    raise Problem(400, "Bad request", "not a cursor this API issued", "query.cursor")


def build_query(database: str, f: WarningFilter) -> tuple[str, dict[str, Any]]:
    """SQL selecting one page plus one row (to tell whether another page follows)."""
    where: list[str] = []
    params: dict[str, Any] = {"limit": f.limit + 1}
    for column, name, value in (
        ("rule_id", "rule", f.rule),
        ("severity", "severity", f.severity),
        ("status", "status", f.status),
        ("owner_team", "team", f.team),
        ("loan_id", "loan_id", f.loan_id),
    ):
        if value is not None:
            where.append(f"{column} = %({name})s")
            params[name] = value
    if f.since is not None:
        where.append("toUInt32(event_time) >= %(since)s")
        params["since"] = int(f.since.timestamp())
    if f.until is not None:
        where.append("toUInt32(event_time) < %(until)s")
        params["until"] = int(f.until.timestamp())
    if f.cursor is not None:
        params["c_t"], params["c_w"], params["c_s"] = decode_cursor(f.cursor)
        where.append(
            "(toUInt32(event_time) < %(c_t)s OR (toUInt32(event_time) = %(c_t)s AND "
            "(warning_id < %(c_w)s OR (warning_id = %(c_w)s AND status < %(c_s)s))))"
        )
    sql = (
        f"SELECT {', '.join(COLUMNS)}, toUInt32(event_time) AS second "  # noqa: S608 - our names
        f"FROM {database}.warnings FINAL"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " ORDER BY second DESC, warning_id DESC, status DESC LIMIT %(limit)s"
    )
    return sql, params
