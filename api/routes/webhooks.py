"""``/v1/webhooks``: an integration subscribes a URL and a filter, lists and removes its
subscriptions, and reads back the deliveries given up on (`api.webhooks`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from api.access import guard
from api.exceptions import Problem
from api.keys import Principal
from api.roles import Role
from api.routes.common import backends_of
from api.webhooks.matching import HookFilter
from api.webhooks.store import HookStore, Subscription
from api.webhooks.targets import refusal

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["webhooks"])

HookId = Annotated[str, Path(pattern=r"^wh-[0-9a-f]{12}$")]


class SubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl = Field(description="Where warnings are POSTed (http or https).")
    filter: HookFilter = Field(default_factory=HookFilter)


def _store(request: Request) -> HookStore:
    backends = backends_of(request)
    return HookStore(backends.redis, backends.prefix)


def _own(request: Request, principal: Principal, hook_id: str) -> Subscription:
    """The subscription, if the caller made it (risk admins see all); 404 otherwise."""
    sub = _store(request).get(hook_id)
    if sub is None or (sub.owner != principal.subject and principal.role is not Role.RISK_ADMIN):
        raise Problem(404, "Not found", f"no webhook {hook_id} of yours", "hook_id")
    return sub


@router.post("/webhooks", status_code=201, summary="Subscribe a URL to warnings")
def subscribe(
    request: Request,
    principal: Annotated[Principal, Depends(guard("POST /v1/webhooks"))],
    body: SubscribeIn,
) -> JSONResponse:
    """The answer holds the signing secret, shown this once (docs/api.md, "Webhooks")."""
    allow = backends_of(request).settings.api.webhook_private_targets
    why = refusal(str(body.url), allow_private=allow)
    if why is not None:
        raise Problem(400, "Bad request", why, "body.url")
    sub = _store(request).subscribe(str(body.url), body.filter, principal.subject)
    return JSONResponse({**sub.shown(), "secret": sub.secret}, status_code=201)


@router.get("/webhooks", summary="Your webhook subscriptions")
def subscriptions(
    request: Request, principal: Annotated[Principal, Depends(guard("GET /v1/webhooks"))]
) -> dict[str, Any]:
    subs = _store(request).subscriptions()
    mine = [s for s in subs if s.owner == principal.subject or principal.role is Role.RISK_ADMIN]
    return {"webhooks": [s.shown() for s in mine]}


@router.delete("/webhooks/{hook_id}", status_code=204, summary="Unsubscribe")
def unsubscribe(
    request: Request,
    principal: Annotated[Principal, Depends(guard("DELETE /v1/webhooks/{hook_id}"))],
    hook_id: HookId,
) -> Response:
    _store(request).unsubscribe(_own(request, principal, hook_id).hook_id)
    return Response(status_code=204)


@router.get("/webhooks/{hook_id}/dead-letters", summary="Deliveries given up on")
def dead_letters(
    request: Request,
    principal: Annotated[Principal, Depends(guard("GET /v1/webhooks/{hook_id}/dead-letters"))],
    hook_id: HookId,
) -> dict[str, Any]:
    """Newest first: each delivery's id, attempts, last error, when, and the warning."""
    sub = _own(request, principal, hook_id)
    return {"dead_letters": _store(request).dead_letters(sub.hook_id)}
