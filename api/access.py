"""The credential check each guarded endpoint depends on: who calls, and may they.

``Depends(guard("GET /v1/loans/{loan_id}"))`` reads ``Authorization: Bearer <token>``,
verifies it (an API key against the key store, else a staff JWT against the OIDC
issuer, `api.oidc`) and checks the role against `api.roles.GRANTS`.
It runs before the endpoint's own parameters are read, so a caller without a
credential learns nothing about what a valid request would look like. The principal
is left on ``request.state`` for the audit row.

An endpoint whose answer is a few Redis reads (the risk card) passes them as
``reads``: they ride on the pipeline that reads the key and counts the request, so
the whole request costs one round trip, and their replies are handed to the endpoint
only once the caller is admitted (`Admitted`). Reading the key record itself on
every request, rather than caching it in the process, is what keeps revocation
immediate in every API process at no extra round trip.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.backends import Backends
from api.exceptions import Problem
from api.keys import Principal, check_record, parse_token
from api.limits import count_on, window
from api.roles import GRANTS, allowed

__all__ = ["PRINCIPAL_KEY", "Admitted", "Reads", "bearer", "guard", "guard_reading"]

PRINCIPAL_KEY = "principal"
"""``request.state`` attribute holding the caller's `Principal` once known."""

bearer = HTTPBearer(
    auto_error=False,
    description="An API key (`lwk_<id>_<secret>`) or, for staff, an OIDC access token (JWT).",
)


Reads = Callable[[Any, str, Mapping[str, str]], None]
"""Queues an endpoint's Redis reads on a pipeline: ``(pipe, key prefix, path params)``.
The path parameters are not validated yet; the replies reach the endpoint only after
the caller is admitted and its parameters are, so a read of a malformed name is
harmless (Redis keys are opaque bytes under the prefix) and never answered."""


@dataclass(frozen=True, slots=True)
class Admitted:
    """A caller let in, and the replies to the endpoint's `Reads` (in their order)."""

    principal: Principal
    replies: list[Any]


def guard(endpoint: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting the roles `GRANTS` names for ``endpoint``; 401 or 403 else."""
    admit = guard_reading(endpoint, None)

    async def check(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> Principal:
        return (await admit(request, credentials)).principal

    return check


def guard_reading(endpoint: str, reads: Reads | None) -> Callable[..., Awaitable[Admitted]]:
    """`guard`, with ``reads`` made in the same Redis round trip as the key check."""
    if endpoint not in GRANTS:
        raise ValueError(f"{endpoint}: not in api.roles.GRANTS")
    roles = ", ".join(sorted(GRANTS[endpoint]))

    async def check(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> Admitted:
        if credentials is None:
            raise Problem(
                401,
                "Unauthorized",
                "missing: send Bearer <API key or staff token>",
                "Authorization",
            )
        backends: Backends = request.app.state.backends
        minute, retry_after = window(time.time())
        queued = _Queued(reads, request.path_params)
        principal, why, count = await _identify(backends, credentials.credentials, minute, queued)
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
        return Admitted(principal, queued.replies)

    return check


class _Queued:
    """An endpoint's reads to queue after the guard's own commands, and their replies."""

    def __init__(self, reads: Reads | None, params: Mapping[str, str]) -> None:
        self.reads = reads
        self.params = params
        self.replies: list[Any] = []

    async def execute(self, pipe: Any, prefix: str, own: int) -> list[Any]:
        """Run ``pipe`` with the reads after its ``own`` commands; the own replies."""
        if self.reads is not None:
            self.reads(pipe, prefix, self.params)
        replies: list[Any] = await pipe.execute()
        self.replies = replies[own:]
        return replies[:own]


async def _identify(
    backends: Backends, token: str, minute: int, queued: _Queued
) -> tuple[Principal | None, str, int]:
    """Who ``token`` is (an API key, or a staff JWT when an OIDC issuer is configured),
    why not, and how many requests that caller made this minute, this one included."""
    parsed = parse_token(token)
    if isinstance(parsed, tuple):  # the key and its count in one round trip, on the loop
        pipe = backends.aredis.pipeline(transaction=False)
        pipe.hget(backends.keys.hash, parsed[0])
        count_on(pipe, backends.prefix, f"key:{parsed[0]}", minute)
        raw, count, _ = await queued.execute(pipe, backends.prefix, 3)
        return (*check_record(raw, parsed[1]), int(count))
    if backends.oidc is None or token.startswith("lwk_"):
        return None, parsed, 0
    # PyJWKClient fetches the issuer's keys with blocking I/O when its cache is cold
    principal, why = await run_in_threadpool(backends.oidc.verify, token)
    if principal is None:
        return None, why, 0
    pipe = backends.aredis.pipeline(transaction=False)
    count_on(pipe, backends.prefix, principal.subject, minute)
    count, _ = await queued.execute(pipe, backends.prefix, 2)
    return principal, "", int(count)
