"""One ASGI middleware that times every request and reports it to the audit trail and
the metrics: allowed, denied (401/403), refused (other 4xx) or failed (5xx).

Pure ASGI rather than Starlette's ``BaseHTTPMiddleware``, which would copy every
response body through an extra task. The endpoint is the matched route's template
(``/v1/loans/{loan_id}``), so figures do not grow one series per loan; the target is
the route's path parameter.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.access import PRINCIPAL_KEY
from api.audit import AuditRow, AuditTrail
from api.metrics import ApiMetrics
from api.problems import REASON_KEY

__all__ = ["Observe", "result_of"]

log = logging.getLogger(__name__)


def result_of(status: int) -> str:
    """What an answer's status means for the audit trail.

    >>> [result_of(s) for s in (200, 202, 401, 403, 404, 429, 503)]
    ['allowed', 'allowed', 'denied', 'denied', 'refused', 'limited', 'failed']
    """
    if status < 400:
        return "allowed"
    if status in (401, 403):
        return "denied"
    if status == 429:
        return "limited"
    return "refused" if status < 500 else "failed"


class Observe:
    """Wraps the app: a request id header, then one audit row and one metrics sample."""

    def __init__(self, app: ASGIApp, audit: AuditTrail | None, metrics: ApiMetrics) -> None:
        self.app = app
        self.audit = audit
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        at = datetime.now(UTC)
        request_id = secrets.token_hex(8)
        reported = False

        async def sending(message: Message) -> None:
            nonlocal reported
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
                # Reported before the answer leaves: once a client has its answer, the
                # request is in the trail (a test, or an auditor, may look at once).
                reported = True
                self._report(
                    scope, request_id, at, message["status"], time.perf_counter() - started
                )
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if not reported:  # no answer started: the error middleware outside answers 500
                self._report(scope, request_id, at, 500, time.perf_counter() - started)

    def _report(
        self, scope: Scope, request_id: str, at: datetime, status: int, seconds: float
    ) -> None:
        route = scope.get("route")
        endpoint = getattr(route, "path", "") or "(unmatched)"
        method = scope["method"]
        result = result_of(status)
        self.metrics.observe(method, endpoint, status, result, seconds)
        if self.audit is None or endpoint in _PROBES:
            return
        state: dict[str, Any] = scope.get("state", {})
        principal = state.get(PRINCIPAL_KEY)
        params: dict[str, Any] = scope.get("path_params", {})
        client = scope.get("client")
        self.audit.record(
            AuditRow(
                request_id=request_id,
                at=at,
                subject=principal.subject if principal else "",
                name=principal.name if principal else "",
                role=str(principal.role) if principal else "",
                method=method,
                endpoint=endpoint if route else scope["path"][:200],
                target=str(next(iter(params.values()), ""))[:200],
                status=status,
                result=result,
                reason=str(state.get(REASON_KEY, ""))[:500],
                client=f"{client[0]}:{client[1]}" if client else "",
                latency_ms=seconds * 1000.0,
            )
        )


_PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
"""Called every few seconds by machines and showing no loan: counted, not audited."""
