"""The API's own errors, under the Loanwatch root.

A `Problem` is a refusal meant for the caller: it becomes an
``application/problem+json`` answer (RFC 9457) naming the field at fault and the reason.
"""

from __future__ import annotations

from config.errors import LoanwatchError

__all__ = ["ApiError", "ApiKeyError", "Problem"]


class ApiError(LoanwatchError):
    """Root of every error the API raises deliberately."""


class ApiKeyError(ApiError):
    """An API key command refused (an unknown key id, a bad role)."""


class Problem(ApiError):
    """A 4xx or 5xx answer: ``status``, a short ``title``, the ``field`` and the ``reason``."""

    def __init__(
        self,
        status: int,
        title: str,
        reason: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.status = status
        self.title = title
        self.reason = reason
        self.field = field
        self.headers = headers or {}
