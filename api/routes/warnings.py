"""``GET /v1/warnings``: the warnings history in ClickHouse, filtered, in keyset pages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request

from api.access import guard
from api.exceptions import Problem
from api.keys import Principal
from api.routes.common import backends_of, masker_for
from api.warnings_query import COLUMNS, WarningFilter, build_query, encode_cursor

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
    if limit > backends.settings.api.page_max:
        raise Problem(
            400, "Bad request", f"at most {backends.settings.api.page_max}", "query.limit"
        )
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise Problem(400, "Bad request", "needs a UTC offset, e.g. +00:00", f"query.{name}")
    if principal.team is not None:
        if team not in (None, principal.team):
            raise Problem(403, "Forbidden", f"this key sees team {principal.team} only", "team")
        team = principal.team
    query = WarningFilter(rule, severity, status, team, loan_id, since, until, cursor, limit)
    sql, params = build_query(backends.database, query)
    with backends.clickhouse.client() as client:
        rows = client.execute(sql, params)
    masker = masker_for(request, principal)
    page = [masker.record(_row(row)) for row in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return {
        "warnings": page,
        "next_cursor": encode_cursor(last[-1], last[0], last[1]) if last else None,
    }


def _row(row: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(COLUMNS, row, strict=False))
    out["reasons"] = orjson.loads(out["reasons"]) if out["reasons"] else []
    for name in ("event_time", "produced_at"):
        out[name] = out[name].isoformat()
    return out
