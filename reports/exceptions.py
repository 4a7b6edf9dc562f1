"""The reports' errors, under the one root (config.errors)."""

from __future__ import annotations

from config.errors import LoanwatchError

__all__ = ["ReportError"]


class ReportError(LoanwatchError):
    """A report cannot be made as asked: a bad period, an unwritable folder; the
    message names the option or path at fault."""
