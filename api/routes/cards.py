"""``GET /v1/loans/{loan_id}``, ``/v1/borrowers/{borrower_ref}``, ``/v1/top-risk``: the
Redis risk view.

Both read through `sinks.redis.lookup`, the same code as ``loanwatch lookup``, so the
API and the command line cannot disagree about a card (layout: docs/redis.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from api.access import Admitted, guard, guard_reading
from api.backends import Backends
from api.exceptions import Problem
from api.keys import Principal
from api.routes.common import backends_of, masker_for
from config.outage import short_reason
from sinks.clickhouse.loan_book import disbursed_on
from sinks.redis.lookup import borrower, decode_card, queue_card, top_risk

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["risk"])

JSON = "application/json"
LOAN_ID = r"^[^\s\x00-\x1f\x7f]{1,128}$"


def _card_reads(pipe: Any, prefix: str, params: Mapping[str, str]) -> None:
    queue_card(pipe, prefix, params["loan_id"])  # `loanwatch lookup`'s reads and decoding


@router.get("/loans/{loan_id}", summary="A loan's risk card", response_class=JSONResponse)
async def get_loan(
    request: Request,
    admitted: Annotated[Admitted, Depends(guard_reading("GET /v1/loans/{loan_id}", _card_reads))],
    loan_id: Annotated[str, Path(pattern=LOAN_ID, description="The loan, as in its events.")],
) -> Response:
    """DPD, bucket, class, open and recent warnings (with reasons and scores) of one loan.

    A loan nothing was raised about has no card in Redis; when the loan book
    (ClickHouse ``loans``) knows it, the answer is ``{"loan_id", "quiet": true,
    "disbursed_on", "open_warnings": 0, "open": {}, "recent": []}``; 404 when neither
    knows the loan (as ``loanwatch lookup`` tells them apart).
    """
    card = decode_card(admitted.replies)  # read with the key, in one round trip
    if card is None:
        card = await run_in_threadpool(_quiet_card, backends_of(request), loan_id)
    masker = masker_for(request, admitted.principal)
    return Response(orjson.dumps(masker.record(card)), media_type=JSON)


def _quiet_card(backends: Backends, loan_id: str) -> dict[str, Any]:
    """The answer for a loan without a card, from the loan book; a 404 when it has none."""
    try:
        with backends.clickhouse.client() as client:
            day = disbursed_on(client, loan_id)
    except Exception as exc:  # noqa: BLE001 - the second source failing is reported, not raised
        why = f"the loan book could not be read ({short_reason(exc)})"
        raise Problem(404, "Not found", f"no risk card for {loan_id}; {why}", "loan_id") from None
    if day is None:
        raise Problem(
            404, "Not found", f"no loan {loan_id}: no risk card and no disbursement", "loan_id"
        )
    return {"loan_id": loan_id, "quiet": True, "disbursed_on": day.isoformat(),
            "open_warnings": 0, "open": {}, "recent": []}  # fmt: skip


@router.get("/top-risk", summary="The riskiest loans now")
def get_top_risk(
    request: Request,
    principal: Annotated[Principal, Depends(guard("GET /v1/top-risk"))],
    n: Annotated[int, Query(ge=1, le=1000, description="How many loans.")] = 50,
) -> dict[str, Any]:
    """Loans with an open warning, worst first: severity of the worst open warning, then DPD."""
    backends = backends_of(request)
    masker = masker_for(request, principal)
    rows = top_risk(backends.redis, backends.prefix, n)
    return {"loans": [masker.record(row) for row in rows]}


@router.get("/borrowers/{borrower_ref}", summary="A borrower's roll-up across loans")
def get_borrower(
    request: Request,
    principal: Annotated[Principal, Depends(guard("GET /v1/borrowers/{borrower_ref}"))],
    borrower_ref: Annotated[str, Path(pattern=LOAN_ID, description="The borrower_id of events.")],
) -> dict[str, Any]:
    """Loans, worst DPD and class, open warnings, and each loan's DPD, class and open count.

    Only for roles that see borrower references in clear: the others could not name one.
    """
    backends = backends_of(request)
    found = borrower(backends.redis, backends.prefix, borrower_ref)
    if found is None:
        raise Problem(404, "Not found", f"no open risk for borrower {borrower_ref}", "borrower_ref")
    return {"borrower_id": borrower_ref, **found}
