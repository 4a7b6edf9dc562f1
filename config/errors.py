"""The error tree every Loanwatch package hangs its own errors from.

One root lets an adapter catch "anything we raised on purpose" without also
swallowing programming errors, and each subclass names the package at fault.
"""

from __future__ import annotations

__all__ = ["ConfigError", "LoanwatchError"]


class LoanwatchError(Exception):
    """Root of every error Loanwatch raises deliberately."""


class ConfigError(LoanwatchError):
    """A setting or policy file is wrong; the message names the setting."""
