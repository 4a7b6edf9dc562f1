"""What every guarded handler needs: the backends and a masker for the caller's role."""

from __future__ import annotations

from fastapi import Request

from api.backends import Backends
from api.exceptions import Problem
from api.keys import Principal
from api.masking import Masker

__all__ = ["backends_of", "checked_limit", "masker_for"]


def backends_of(request: Request) -> Backends:
    backends: Backends = request.app.state.backends
    return backends


def masker_for(request: Request, principal: Principal) -> Masker:
    key = backends_of(request).settings.alerts.ref_key.get_secret_value().encode()
    return Masker(key, principal.role)


def checked_limit(backends: Backends, limit: int) -> None:
    """A page's ``limit`` within ``api.page_max`` (a setting, so not in the query's schema)."""
    if limit > backends.settings.api.page_max:
        raise Problem(
            400, "Bad request", f"at most {backends.settings.api.page_max}", "query.limit"
        )
