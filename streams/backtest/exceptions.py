"""Errors of the backtest, under the one Loanwatch root."""

from __future__ import annotations

from config.errors import LoanwatchError

__all__ = ["BacktestError"]


class BacktestError(LoanwatchError):
    """A backtest cannot run as asked; the message names the file, source or option."""
