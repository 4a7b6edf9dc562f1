"""Which warnings a subscription wants: rules, teams, statuses and a lowest severity.

>>> f = HookFilter(rules=["dpd_30"], min_severity="medium")
>>> f.matches({"rule_id": "dpd_30", "severity": "high", "owner_team": "t", "status": "open"})
True
>>> f.matches({"rule_id": "dpd_30", "severity": "low", "owner_team": "t", "status": "open"})
False
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sinks.redis.keys import SEVERITY_WEIGHT

__all__ = ["HookFilter"]


class HookFilter(BaseModel):
    """Empty lists match everything; every given field must match."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[str] = Field(default_factory=list, max_length=100)
    teams: list[str] = Field(default_factory=list, max_length=100)
    statuses: list[Literal["open", "resolved"]] = Field(default_factory=list)
    min_severity: Literal["info", "low", "medium", "high", "critical"] = "info"

    def matches(self, warning: dict[str, Any]) -> bool:
        return (
            (not self.rules or warning.get("rule_id") in self.rules)
            and (not self.teams or warning.get("owner_team") in self.teams)
            and (not self.statuses or warning.get("status") in self.statuses)
            and SEVERITY_WEIGHT.get(str(warning.get("severity")), 0)
            >= SEVERITY_WEIGHT[self.min_severity]
        )
