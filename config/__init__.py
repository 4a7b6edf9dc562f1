"""Settings, policy files and the local-stack tooling."""

from __future__ import annotations

from config.errors import ConfigError, LoanwatchError, ServiceUnavailable
from config.settings import Settings, load_settings

__all__ = ["ConfigError", "LoanwatchError", "ServiceUnavailable", "Settings", "load_settings"]
