"""Errors of the loan-book simulator, under the one Loanwatch root."""

from __future__ import annotations

from config.errors import LoanwatchError

__all__ = ["SimulateError"]


class SimulateError(LoanwatchError):
    """A simulation was asked for something it cannot do; the message names the argument."""
