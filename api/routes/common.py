"""What every guarded handler needs: the backends and a masker for the caller's role."""

from __future__ import annotations

from fastapi import Request

from api.backends import Backends
from api.keys import Principal
from api.masking import Masker

__all__ = ["backends_of", "masker_for"]


def backends_of(request: Request) -> Backends:
    backends: Backends = request.app.state.backends
    return backends


def masker_for(request: Request, principal: Principal) -> Masker:
    key = backends_of(request).settings.alerts.ref_key.get_secret_value().encode()
    return Masker(key, principal.role)
