"""The sinks' own errors, hung from the Loanwatch root.

An adapter (the CLI, a supervisor) catches `SinkError` to report "a sink refused
on purpose" (a migration edited after it ran, a writer stopped mid-retry) without
also swallowing programming errors.
"""

from __future__ import annotations

from config.errors import LoanwatchError

__all__ = ["MigrationError", "SinkError", "WriterStopped"]


class SinkError(LoanwatchError):
    """Root of every error the sinks raise deliberately."""


class MigrationError(SinkError):
    """The database's recorded migrations disagree with the code's (e.g. an edited one)."""


class WriterStopped(SinkError):
    """A writer's stop event was set while it waited to retry; its batch stays uncommitted."""
