"""Borrower references in clear only for the roles that contact or book the borrower.

Other roles get `sinks.alerts.model.mask_borrower`'s keyed hash, under the same key
as alert messages (``LOANWATCH_ALERTS__REF_KEY``): one borrower reads the same in a
chat alert and in the API, and rows of one borrower still group together.
"""

from __future__ import annotations

from typing import Any

from api.roles import Role, sees_borrower
from sinks.alerts.model import mask_borrower

__all__ = ["Masker"]

_FIELD = "borrower_id"


class Masker:
    """Masks ``borrower_id`` wherever it appears in an answer, for one role."""

    def __init__(self, key: bytes, role: Role) -> None:
        self.key = key
        self.clear = sees_borrower(role)

    def ref(self, value: Any) -> Any:
        if self.clear or not isinstance(value, str) or not value:
            return value
        return mask_borrower(value, self.key)

    def record(self, record: dict[str, Any]) -> dict[str, Any]:
        """A copy with ``borrower_id`` masked, here and in nested warnings."""
        if self.clear:
            return record
        out = {k: self._value(v) for k, v in record.items()}
        if _FIELD in out:
            out[_FIELD] = self.ref(out[_FIELD])
        return out

    def _value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return self.record(value)
        if isinstance(value, list):
            return [self._value(v) for v in value]
        return value
