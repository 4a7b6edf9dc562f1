"""The credential check each guarded endpoint depends on: who calls, and may they.

``Depends(guard("GET /v1/loans/{loan_id}"))`` reads ``Authorization: Bearer <token>``,
verifies it (an API key against the key store, else a staff JWT against the OIDC
issuer, `api.oidc`) and checks the role against `api.roles.GRANTS`.
It runs before the endpoint's own parameters are read, so a caller without a
credential learns nothing about what a valid request would look like. The principal
is left on ``request.state`` for the audit row.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.backends import Backends
from api.exceptions import Problem
from api.keys import Principal, check_record, parse_token
from api.limits import count_on, window
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
                401,
                "Unauthorized",
                "missing: send Bearer <API key or staff token>",
                "Authorization",
            )
        backends: Backends = request.app.state.backends
        minute, retry_after = window(time.time())
        principal, why, count = await _identify(backends, credentials.credentials, minute)
        if principal is None:
            raise Problem(401, "Unauthorized", why, "Authorization")
        setattr(request.state, PRINCIPAL_KEY, principal)
        limit = principal.rate_per_minute or backends.settings.api.rate_per_minute
        if limit and count > limit:
            raise Problem(
                429,
                "Too many requests",
                f"more than {limit} requests this minute; retry in {retry_after} s",
                headers={"Retry-After": str(retry_after)},
            )
        if not allowed(endpoint, principal.role):
            raise Problem(
                403, "Forbidden", f"role {principal.role} may not call {endpoint} ({roles} may)"
            )
        return principal

    return check


async def _identify(
    backends: Backends, token: str, minute: int
) -> tuple[Principal | None, str, int]:
    """Who ``token`` is (an API key, or a staff JWT when an OIDC issuer is configured),
    why not, and how many requests that caller made this minute, this one included."""
    parsed = parse_token(token)
    if isinstance(parsed, tuple):  # the key and its count in one round trip, on the loop
        pipe = backends.aredis.pipeline(transaction=False)
        pipe.hget(backends.keys.hash, parsed[0])
        count_on(pipe, backends.prefix, f"key:{parsed[0]}", minute)
        raw, count, _ = await pipe.execute()
        return (*check_record(raw, parsed[1]), int(count))
    if backends.oidc is None or token.startswith("lwk_"):
        return None, parsed, 0
    # PyJWKClient fetches the issuer's keys with blocking I/O when its cache is cold
    principal, why = await run_in_threadpool(backends.oidc.verify, token)
    if principal is None:
        return None, why, 0
    pipe = backends.aredis.pipeline(transaction=False)
    count_on(pipe, backends.prefix, principal.subject, minute)
    count, _ = await pipe.execute()
    return principal, "", int(count)
