"""Settings, the error root and the local-stack tooling.

`Settings` and `load_settings` are loaded on first use (PEP 562), so importing
the error root (`config.errors`), as the pure core does, never pulls in the
settings tree and pydantic-settings with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from config.errors import ConfigError, LoanwatchError, ServiceUnavailable

if TYPE_CHECKING:
    from config.settings import Settings, load_settings

__all__ = ["ConfigError", "LoanwatchError", "ServiceUnavailable", "Settings", "load_settings"]


def __getattr__(name: str) -> Any:
    if name in ("Settings", "load_settings"):
        from config import settings

        return getattr(settings, name)
    raise AttributeError(f"module 'config' has no attribute {name!r}")
