"""The credential check each guarded endpoint depends on: who calls, and may they.

``Depends(guard("GET /v1/loans/{loan_id}"))`` reads ``Authorization: Bearer <token>``,
verifies it (an API key against the key store, else a staff JWT against the OIDC
issuer, `api.oidc`) and checks the role against `api.roles.GRANTS`.
It runs before the endpoint's own parameters are read, so a caller without a
credential learns nothing about what a valid request would look like. The principal
is left on ``request.state`` for the audit row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.backends import Backends
from api.exceptions import Problem
from api.keys import Principal, check_record, parse_token
from api.roles import GRANTS, allowed

__all__ = ["PRINCIPAL_KEY", "bearer", "guard"]

PRINCIPAL_KEY = "principal"
"""``request.state`` attribute holding the caller's `Principal` once known."""

bearer = HTTPBearer(
    auto_error=False,
    description="An API key (`lwk_<id>_<secret>`) or, for staff, an OIDC access token (JWT).",
)


def guard(endpoint: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting the roles `GRANTS` names for ``endpoint``; 401 or 403 else."""
    if endpoint not in GRANTS:
        raise ValueError(f"{endpoint}: not in api.roles.GRANTS")
    roles = ", ".join(sorted(GRANTS[endpoint]))

    async def check(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> Principal:
        if credentials is None:
            raise Problem(
                401, "Unauthorized", "needs Authorization: Bearer <API key>", "Authorization"
            )
        backends: Backends = request.app.state.backends
        principal, why = await _identify(backends, credentials.credentials)
        if principal is None:
            raise Problem(401, "Unauthorized", why, "Authorization")
        setattr(request.state, PRINCIPAL_KEY, principal)
        if not allowed(endpoint, principal.role):
            raise Problem(
                403, "Forbidden", f"role {principal.role} may not call {endpoint} ({roles} may)"
            )
        return principal

    return check


async def _identify(backends: Backends, token: str) -> tuple[Principal | None, str]:
    """An API key (``lwk_...``), or a staff JWT when an OIDC issuer is configured."""
    parsed = parse_token(token)
    if isinstance(parsed, tuple):  # one HGET on the event loop: no thread hop
        raw = await backends.aredis.hget(backends.keys.hash, parsed[0])
        return check_record(raw, parsed[1])
    if backends.oidc is None or token.startswith("lwk_"):
        return None, parsed
    # PyJWKClient fetches the issuer's keys with blocking I/O when its cache is cold
    return await run_in_threadpool(backends.oidc.verify, token)
