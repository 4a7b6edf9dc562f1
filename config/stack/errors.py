"""Errors of the local-stack tooling."""

from __future__ import annotations

from config.errors import LoanwatchError

__all__ = ["StackError"]


class StackError(LoanwatchError):
    """A local service could not be installed, started, checked or stopped."""
