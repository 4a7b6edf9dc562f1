"""``/v1/webhooks``: an integration subscribes a URL and a filter, lists and removes its
subscriptions, and reads back the deliveries given up on (`api.webhooks`)."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls a webhooks route, once `guard` let them in, and the store they act on."""

    principal: Principal
    store: HookStore
    private_targets: bool
    """``api.webhook_private_targets``: may a URL point inside the service's own network."""

    def sees(self, sub: Subscription) -> bool:
        """The caller made the subscription, or is a risk admin (who sees all)."""
        return sub.owner == self.principal.subject or self.principal.role is Role.RISK_ADMIN

    def own(self, hook_id: str) -> Subscription:
        """The subscription, if the caller sees it; 404 otherwise."""
        sub = self.store.get(hook_id)
        if sub is None or not self.sees(sub):
            raise Problem(404, "Not found", f"no webhook {hook_id} of yours", "hook_id")
        return sub


def guarded(endpoint: str) -> Any:
    """The dependency of every webhooks route: `guard(endpoint)`, then the `Caller`.

    The guard checks the credential and the role before the route's own parameters
    are read, and leaves the principal on the request for the audit row
    (`api.observe`).
    """
    admit = guard(endpoint)

    # A default, not Annotated: under postponed annotations FastAPI reads the annotation
    # as a string in the module's namespace, where the local ``admit`` is not.
    async def caller(
        request: Request,
        principal: Principal = Depends(admit),  # noqa: B008
    ) -> Caller:
        backends = backends_of(request)
        return Caller(
            principal,
            HookStore(backends.redis, backends.prefix),
            backends.settings.api.webhook_private_targets,
        )

    return Depends(caller)


@router.post("/webhooks", status_code=201, summary="Subscribe a URL to warnings")
def subscribe(
    caller: Annotated[Caller, guarded("POST /v1/webhooks")], body: SubscribeIn
) -> JSONResponse:
    """The answer holds the signing secret, shown this once (docs/api.md, "Webhooks")."""
    why = refusal(str(body.url), allow_private=caller.private_targets)
    if why is not None:
        raise Problem(400, "Bad request", why, "body.url")
    sub = caller.store.subscribe(str(body.url), body.filter, caller.principal.subject)
    return JSONResponse({**sub.shown(), "secret": sub.secret}, status_code=201)


@router.get("/webhooks", summary="Your webhook subscriptions")
def subscriptions(caller: Annotated[Caller, guarded("GET /v1/webhooks")]) -> dict[str, Any]:
    return {"webhooks": [s.shown() for s in caller.store.subscriptions() if caller.sees(s)]}


@router.delete("/webhooks/{hook_id}", status_code=204, summary="Unsubscribe")
def unsubscribe(
    caller: Annotated[Caller, guarded("DELETE /v1/webhooks/{hook_id}")], hook_id: HookId
) -> Response:
    caller.store.unsubscribe(caller.own(hook_id).hook_id)
    return Response(status_code=204)


@router.get("/webhooks/{hook_id}/dead-letters", summary="Deliveries given up on")
def dead_letters(
    caller: Annotated[Caller, guarded("GET /v1/webhooks/{hook_id}/dead-letters")],
    hook_id: HookId,
) -> dict[str, Any]:
    """Newest first: each delivery's id, attempts, last error, when, and the warning."""
    return {"dead_letters": caller.store.dead_letters(caller.own(hook_id).hook_id)}
