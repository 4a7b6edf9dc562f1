"""The alert path's own errors, under `sinks.errors.SinkError` (and so `LoanwatchError`).

An adapter (the CLI, the HTTP endpoint) catches `AlertError` to answer "you asked for
something that cannot be done" (an unknown alert, a bad matcher) with one clear line,
without also swallowing programming errors.
"""

from __future__ import annotations

from sinks.errors import SinkError

__all__ = ["AlertConfigError", "AlertError", "DeliveryError", "RequestRefused", "UnknownAlert"]


class AlertError(SinkError):
    """Root of every error the alert path raises deliberately."""


class AlertConfigError(AlertError):
    """The routing file is wrong; the message names the entry at fault.

    ``line`` is the entry's line in the file, when it came from one (`load_config`).
    """

    line: int | None = None


class UnknownAlert(AlertError):
    """An ack, resolve or silence named an alert or group that is not known."""


class DeliveryError(AlertError):
    """A channel refused or could not take a message; the message stays queued."""


class RequestRefused(AlertError):
    """An HTTP request the endpoint answers with a 4xx; the message names the field at fault."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
