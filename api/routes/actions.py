"""``POST /v1/actions/{action_id}/outcome``: an outcome becomes events on the events topic.

The action is looked up in ClickHouse ``actions`` (the loan and borrower it is for),
the events are built and validated (`api.outcomes`), and only then produced, keyed by
loan, with the idempotent producer. A bad request never reaches Kafka; a 202 means
the brokers confirmed every event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from api.access import guard
from api.exceptions import Problem
from api.keys import Principal
from api.outcomes import OutcomeIn, outcome_events
from api.routes.common import backends_of
from rules.decode import encode_event

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["actions"])

_ACTION = "SELECT loan_id, borrower_id FROM {db}.actions FINAL WHERE action_id = %(id)s LIMIT 1"


@router.post("/actions/{action_id}/outcome", status_code=202, summary="Report an outcome")
def report_outcome(
    request: Request,
    principal: Annotated[Principal, Depends(guard("POST /v1/actions/{action_id}/outcome"))],
    action_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,128}$")],
    body: OutcomeIn,
) -> JSONResponse:
    """Contacted, promise to pay (with date and amount), refused, unreachable or dispute,
    with the collector's note; the stream judges it, the API changes no loan itself."""
    backends = backends_of(request)
    if principal.team is not None and body.team not in (None, principal.team):
        raise Problem(403, "Forbidden", f"this key reports for {principal.team} only", "body.team")
    team = body.team or principal.team
    if team is None:
        raise Problem(400, "Bad request", "required: this key has no team", "body.team")
    with backends.clickhouse.client() as client:
        found = client.execute(_ACTION.format(db=backends.database), {"id": action_id})
    if not found:
        raise Problem(404, "Not found", f"no action {action_id}", "action_id")
    loan_id, borrower_id = found[0]
    events = outcome_events(
        body,
        loan_id=loan_id,
        borrower_id=borrower_id,
        team=team,
        action_id=action_id,
        now=datetime.now(UTC),
    )
    failures: list[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    for event in events:
        backends.producer.produce(
            backends.events_topic, encode_event(event), loan_id.encode(), on_delivery=delivered
        )
    left = backends.producer.flush(backends.settings.api.send_timeout_s)
    if left or failures:
        raise Problem(
            503,
            "Service unavailable",
            f"Kafka did not confirm the events ({'; '.join(failures) or 'timed out'}); "
            "retry with the same event_id",
        )
    return JSONResponse(
        {"events": [e.event_id for e in events], "loan_id": loan_id}, status_code=202
    )
