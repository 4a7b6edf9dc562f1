"""The error tree every Loanwatch package hangs its own errors from.

One root lets an adapter catch "anything we raised on purpose" without also
swallowing programming errors, and each subclass names the package at fault.
"""

from __future__ import annotations

__all__ = ["ConfigError", "LoanwatchError", "ServiceUnavailable"]


class LoanwatchError(Exception):
    """Root of every error Loanwatch raises deliberately."""


class ConfigError(LoanwatchError):
    """A setting or policy file is wrong; the message names the setting."""


class ServiceUnavailable(LoanwatchError):
    """Kafka, Redis or ClickHouse could not be reached; the message names which, where,
    and what the command does about it (a one-shot command exits).

    >>> str(ServiceUnavailable("ClickHouse", "127.0.0.1:9000", "Connection refused"))
    'cannot reach ClickHouse at 127.0.0.1:9000 (Connection refused); exiting'
    """

    def __init__(self, service: str, address: str, reason: str, then: str = "exiting") -> None:
        super().__init__(f"cannot reach {service} at {address} ({reason}); {then}")
        self.service = service
        self.address = address
        self.reason = reason
