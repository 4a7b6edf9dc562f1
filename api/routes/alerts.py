"""``POST /v1/alerts/{alert_ref}/ack`` and ``/resolve``: the alert service's own commands.

They go through `sinks.alerts.commands.submit`, as the ack endpoint of ``alerts run``
and ``loanwatch alerts ack`` do: queued in Redis for the one running service, which
applies them and answers. 200 when applied, 202 when no service answered yet (it
applies the command when it starts), 404 when the service knows no such alert.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from api.access import guard
from api.exceptions import Problem
from api.keys import Principal
from api.routes.common import backends_of
from sinks.alerts.commands import submit

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["alerts"])

AlertRef = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9._:-]{1,128}$", description="Group ref or warning id.")
]


def _act(request: Request, principal: Principal, op: str, ref: str) -> JSONResponse:
    backends = backends_of(request)
    wait_s = backends.settings.api.alert_wait_s
    answer: dict[str, Any] = submit(backends.alerts, op, principal.name, wait_s=wait_s, ref=ref)
    if answer.get("ok"):
        return JSONResponse(answer, status_code=200)
    if answer.get("queued"):
        return JSONResponse(answer, status_code=202)
    raise Problem(404, "Not found", str(answer.get("error", "unknown alert")), "alert_ref")


def _route(op: str, summary: str, doc: str) -> None:
    """Register ``POST /v1/alerts/{alert_ref}/<op>``: the two differ only in the command."""
    admitted = Depends(guard(f"POST /v1/alerts/{{alert_ref}}/{op}"))

    def act(request: Request, alert_ref: AlertRef, principal: Principal = admitted) -> JSONResponse:
        return _act(request, principal, op, alert_ref)

    act.__doc__ = doc
    router.add_api_route(
        f"/alerts/{{alert_ref}}/{op}", act, methods=["POST"], summary=summary, name=op
    )


_route(
    "ack",
    "Acknowledge an alert group or alert",
    "Stops repeats and escalation; recorded with the key's name as who.",
)
_route(
    "resolve", "Resolve an alert group or alert", "Closes it; the key's name is recorded as who."
)
