"""The Loanwatch HTTP API for CRM, ERP and collection systems (docs/api.md).

It reads the sinks' stores (Redis cards, ClickHouse warnings and actions) and writes
only events to Kafka; it never changes a loan itself. Importing this package loads
no framework: the app and server modules load on use.
"""

from __future__ import annotations

from api.exceptions import ApiError, ApiKeyError, Problem
from api.keys import ApiKey, KeyStore, Principal
from api.roles import GRANTS, Role, allowed

__all__ = [
    "GRANTS",
    "ApiError",
    "ApiKey",
    "ApiKeyError",
    "KeyStore",
    "Principal",
    "Problem",
    "Role",
    "allowed",
]
