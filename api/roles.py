"""Who may call what: the five roles and, for each endpoint, the roles it admits.

One table rather than a decorator per route, so a reviewer reads every grant in one
place and the tests walk the same table (every role against every endpoint).

>>> allowed("GET /v1/loans/{loan_id}", Role.VIEWER)
True
>>> allowed("POST /v1/alerts/{alert_ref}/ack", Role.INTEGRATION)
False
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["GRANTS", "SEES_BORROWER", "Role", "allowed", "sees_borrower"]


class Role(StrEnum):
    """What a credential is for; a key holds exactly one."""

    VIEWER = "viewer"  # relationship managers, read-only dashboards
    COLLECTOR = "collector"  # collection staff working their task queue
    ANALYST = "analyst"  # risk analysts, on call for alerts
    RISK_ADMIN = "risk-admin"  # the risk team's leads: everything
    INTEGRATION = "integration"  # CRM, ERP and collection systems


_ALL = frozenset(Role)
_HOOKS = frozenset({Role.INTEGRATION, Role.RISK_ADMIN})

GRANTS: Final[dict[str, frozenset[Role]]] = {
    "GET /v1/loans/{loan_id}": _ALL,
    "GET /v1/borrowers/{borrower_ref}": frozenset(
        {Role.COLLECTOR, Role.RISK_ADMIN, Role.INTEGRATION}
    ),
    "GET /v1/top-risk": frozenset({Role.VIEWER, Role.ANALYST, Role.RISK_ADMIN, Role.COLLECTOR}),
    "GET /v1/warnings": frozenset({Role.VIEWER, Role.ANALYST, Role.RISK_ADMIN, Role.INTEGRATION}),
    "GET /v1/actions": frozenset({Role.COLLECTOR, Role.ANALYST, Role.RISK_ADMIN, Role.INTEGRATION}),
    "POST /v1/alerts/{alert_ref}/ack": frozenset({Role.ANALYST, Role.RISK_ADMIN}),
    "POST /v1/alerts/{alert_ref}/resolve": frozenset({Role.ANALYST, Role.RISK_ADMIN}),
    "POST /v1/actions/{action_id}/outcome": frozenset(
        {Role.COLLECTOR, Role.RISK_ADMIN, Role.INTEGRATION}
    ),
    "POST /v1/webhooks": _HOOKS,
    "GET /v1/webhooks": _HOOKS,
    "DELETE /v1/webhooks/{hook_id}": _HOOKS,
    "GET /v1/webhooks/{hook_id}/dead-letters": _HOOKS,
}
"""Endpoint (method and path template, as routed) -> the roles it admits. The probes
(``/healthz``, ``/readyz``, ``/metrics``) need no credential: load balancers and
Prometheus call them, and they show no loan."""

SEES_BORROWER: Final = frozenset({Role.COLLECTOR, Role.RISK_ADMIN, Role.INTEGRATION})
"""Roles that get borrower references in clear: collectors and the systems that contact
or book the borrower. Viewers and analysts see a keyed hash (stable, so rows of one
borrower still group together)."""


def allowed(endpoint: str, role: Role) -> bool:
    """Whether ``role`` may call ``endpoint``; an endpoint missing from `GRANTS` admits none."""
    return role in GRANTS.get(endpoint, frozenset())


def sees_borrower(role: Role) -> bool:
    return role in SEES_BORROWER
