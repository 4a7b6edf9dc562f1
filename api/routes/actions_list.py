"""``GET /v1/actions``: review and collection tasks from ClickHouse ``actions``, in pages."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request

from api.access import guard
from api.keys import Principal
from api.pages import Paged
from api.routes.common import backends_of, checked_limit, masker_for
from sinks.clickhouse import tables

__all__ = ["ACTIONS", "router"]

router = APIRouter(prefix="/v1", tags=["actions"])

Code = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]

ACTIONS = Paged(
    "actions",
    tuple(c.name for c in tables.ACTIONS.columns if c.name != "schema_version"),
    order=("toString(due_on)", "action_id"),
)
"""Latest due day first; the day as ISO text, which sorts as the day and travels in a
cursor as it is."""


@router.get("/actions", summary="Review and collection tasks, filtered and paged")
def list_actions(  # noqa: PLR0913 - one parameter per documented filter
    request: Request,
    principal: Annotated[Principal, Depends(guard("GET /v1/actions"))],
    kind: Literal["collection_step", "review", "care_offer"] | None = None,
    name: Code = None,
    loan_id: Code = None,
    due_from: Annotated[date | None, Query(description="Due on or after this day.")] = None,
    due_to: Annotated[date | None, Query(description="Due on or before this day.")] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    limit: Annotated[int, Query(ge=1, description="Rows per page, at most api.page_max.")] = 100,
) -> dict[str, Any]:
    """Latest due first; pass ``next_cursor`` back as ``cursor`` for the next page.
    Report what came of one with ``POST /v1/actions/{action_id}/outcome``."""
    backends = backends_of(request)
    checked_limit(backends, limit)
    days = [("toString(due_on) >= {p}", due_from), ("toString(due_on) <= {p}", due_to)]
    conditions = [(sql, day.isoformat()) for sql, day in days if day is not None]
    equals = {"kind": kind, "name": name, "loan_id": loan_id}
    sql, params = ACTIONS.query(backends.database, equals, conditions, cursor, limit)
    with backends.clickhouse.client() as client:
        rows, next_cursor = ACTIONS.page(client.execute(sql, params), limit)
    masker = masker_for(request, principal)
    return {"actions": [masker.record(_shown(row)) for row in rows], "next_cursor": next_cursor}


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    row["params"] = orjson.loads(row["params"]) if row["params"] else {}
    row["due_on"] = row["due_on"].isoformat()
    row["produced_at"] = row["produced_at"].isoformat()
    return row
