"""Filtered, newest-first ClickHouse queries in keyset pages, and their opaque cursors.

Pure: builds the SQL and its parameters. Keyset rather than OFFSET, so a page costs
the same however deep, and rows written meanwhile neither repeat nor vanish between
pages. Every value travels as a driver parameter, never in the SQL text; names
(tables, columns, order expressions) are ours.

>>> spec = Paged("t", ("id", "at"), order=("at", "id"))
>>> sql, params = spec.query("db", {"kind": "x"}, [], encode_cursor([5, "a"]), 10)
>>> print(sql)  # doctest: +NORMALIZE_WHITESPACE
SELECT id, at, at AS _k0, id AS _k1 FROM db.t FINAL WHERE kind = %(kind)s AND
(_k0 < %(_c0)s OR (_k0 = %(_c0)s AND _k1 < %(_c1)s)) ORDER BY _k0 DESC, _k1 DESC
LIMIT %(_limit)s
>>> params
{'_limit': 11, 'kind': 'x', '_c0': 5, '_c1': 'a'}
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson

from api.exceptions import Problem

__all__ = ["Paged", "decode_cursor", "encode_cursor"]


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(text: str, size: int) -> list[Any]:
    """The position a cursor names; a 400 naming ``cursor`` for anything we did not issue."""
    try:
        value = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        value = None
    if (
        isinstance(value, list)
        and len(value) == size
        and all(isinstance(v, int | str) and not isinstance(v, bool) for v in value)
    ):
        return value
    raise Problem(400, "Bad request", "not a cursor this API issued", "query.cursor")


@dataclass(frozen=True, slots=True)
class Paged:
    """One table read newest first by ``order`` (expressions, the last ones unique)."""

    table: str
    columns: tuple[str, ...]
    order: tuple[str, ...]

    def query(
        self,
        database: str,
        equals: dict[str, Any],
        conditions: list[tuple[str, Any]],
        cursor: str | None,
        limit: int,
    ) -> tuple[str, dict[str, Any]]:
        """SQL for one page plus one row (which tells whether another page follows).

        ``equals``: column -> value (None: no filter); ``conditions``: (SQL with one
        ``{p}`` where its value goes, value), e.g. ``("toUInt32(at) >= {p}", 1712300000)``.
        """
        params: dict[str, Any] = {"_limit": limit + 1}
        where: list[str] = []
        for column, value in equals.items():
            if value is not None:
                where.append(f"{column} = %({column})s")
                params[column] = value
        for n, (sql, value) in enumerate(conditions):
            where.append(sql.format(p=f"%(p{n})s"))
            params[f"p{n}"] = value
        keys = [f"_k{i}" for i in range(len(self.order))]
        if cursor is not None:
            for i, value in enumerate(decode_cursor(cursor, len(self.order))):
                params[f"_c{i}"] = value
            where.append(_after(keys))
        selected = ", ".join(
            [
                *self.columns,
                *(f"{expr} AS {key}" for expr, key in zip(self.order, keys, strict=True)),
            ]
        )
        sql = (
            f"SELECT {selected} FROM {database}.{self.table} FINAL"  # noqa: S608 - our names
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + f" ORDER BY {', '.join(f'{key} DESC' for key in keys)} LIMIT %(_limit)s"
        )
        return sql, params

    def page(
        self, rows: list[tuple[Any, ...]], limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The page's rows as dicts (without the order keys) and the next page's cursor."""
        width = len(self.columns)
        out = [dict(zip(self.columns, row[:width], strict=True)) for row in rows[:limit]]
        if len(rows) <= limit:
            return out, None
        last = rows[limit - 1][width:]
        return out, encode_cursor([v if isinstance(v, int) else str(v) for v in last])


def _after(keys: list[str], start: int = 0) -> str:
    """Rows after the cursor in descending order: a < x OR (a = x AND (rest after))."""
    key, c = keys[start], f"%(_c{start})s"
    if start == len(keys) - 1:
        return f"{key} < {c}"
    return f"({key} < {c} OR ({key} = {c} AND {_after(keys, start + 1)}))"
