"""The alert path's own errors, under `sinks.errors.SinkError` (and so `LoanwatchError`).

An adapter (the CLI, the HTTP endpoint) catches `AlertError` to answer "you asked for
something that cannot be done" (an unknown alert, a bad matcher) with one clear line,
without also swallowing programming errors. `shown` is how a refused value appears in
their messages.
"""

from __future__ import annotations

from typing import Any

from sinks.errors import SinkError

__all__ = [
    "AlertConfigError",
    "AlertError",
    "DeliveryError",
    "RequestRefused",
    "UnknownAlert",
    "shown",
]


class AlertError(SinkError):
    """Root of every error the alert path raises deliberately."""


class AlertConfigError(AlertError):
    """The routing file (or a duration or matcher given elsewhere) is wrong.

    The message names every entry at fault, as ``file:line: key: message`` for a file.
    """


class UnknownAlert(AlertError):
    """An ack, resolve or silence named an alert or group that is not known."""


class DeliveryError(AlertError):
    """A channel refused or could not take a message; the message stays queued."""


class RequestRefused(AlertError):
    """An HTTP request the endpoint answers with a 4xx; the message names the field at fault."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def shown(value: Any, limit: int = 60) -> str:
    """A value for an error message: a scalar's repr cut to ``limit``, else its type.

    Never the repr of a container: a YAML file's aliases can make one exponentially large.

    >>> shown("x" * 100, 10), shown([1, 2]), shown(10**100)
    ("'xxxxxx...", 'a list', 'a very long number')
    """
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        return "a very long number"
    if value is None or isinstance(value, str | int | float | bool):
        text = repr(value)
        return text if len(text) <= limit else text[: limit - 3] + "..."
    return f"a {type(value).__name__}"
