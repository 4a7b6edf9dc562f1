"""``GET /v1/warnings``: the warnings history in ClickHouse, filtered, in keyset pages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request

from api.access import guard
from api.exceptions import Problem
from api.keys import Principal
from api.pages import Paged
from api.routes.common import backends_of, checked_limit, masker_for
from sinks.clickhouse import tables

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["warnings"])

Code = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]


@router.get("/warnings", summary="Warnings, filtered and paged")
def list_warnings(  # noqa: PLR0913 - one parameter per documented filter
    request: Request,
    principal: Annotated[Principal, Depends(guard("GET /v1/warnings"))],
    rule: Code = None,
    severity: Literal["info", "low", "medium", "high", "critical"] | None = None,
    status: Literal["open", "resolved"] | None = None,
    team: Code = None,
    loan_id: Code = None,
    since: Annotated[datetime | None, Query(description="Event time from (inclusive).")] = None,
    until: Annotated[datetime | None, Query(description="Event time before (exclusive).")] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    limit: Annotated[int, Query(ge=1, description="Rows per page, at most api.page_max.")] = 100,
) -> dict[str, Any]:
    """Newest first. Pass ``next_cursor`` back as ``cursor`` for the next page; it is
    null on the last page. A key bound to a team sees that team's warnings only."""
    backends = backends_of(request)
    checked_limit(backends, limit)
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise Problem(400, "Bad request", "needs a UTC offset, e.g. +00:00", f"query.{name}")
    if principal.team is not None:
        if team not in (None, principal.team):
            raise Problem(403, "Forbidden", f"this key sees team {principal.team} only", "team")
        team = principal.team
    equals = {"rule_id": rule, "severity": severity, "status": status, "owner_team": team,
              "loan_id": loan_id}  # fmt: skip
    times = [("toUInt32(event_time) >= {p}", since), ("toUInt32(event_time) < {p}", until)]
    conditions = [(sql, int(t.timestamp())) for sql, t in times if t is not None]
    sql, params = WARNINGS.query(backends.database, equals, conditions, cursor, limit)
    with backends.clickhouse.client() as client:
        rows, next_cursor = WARNINGS.page(client.execute(sql, params), limit)
    masker = masker_for(request, principal)
    return {"warnings": [masker.record(_shown(row)) for row in rows], "next_cursor": next_cursor}


WARNINGS = Paged(
    "warnings",
    tuple(c.name for c in tables.WARNINGS.columns if c.name != "schema_version"),
    order=("toUInt32(event_time)", "warning_id", "status"),
)
"""Newest event first; by the second, because 18.16 stores ``DateTime`` to the second,
so the same cursor works on every server."""


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    row["reasons"] = orjson.loads(row["reasons"]) if row["reasons"] else []
    for name in ("event_time", "produced_at"):
        row[name] = row[name].isoformat()
    return row
