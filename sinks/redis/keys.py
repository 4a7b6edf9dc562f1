"""Redis key names and the top-risk score, in one place so writer, lookup and docs agree.

Every key lives under ``settings.redis.key_prefix`` (``lw:`` by default) so several
deployments, or tests, can share one Redis and be removed with one ``SCAN`` pattern.
The layout is described in docs/redis.md; change both together.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "KLASS_RANK",
    "RECENT_LIMIT",
    "SEVERITY_WEIGHT",
    "STREAM_MAXLEN",
    "TERMINAL_RULES",
    "RedisKeys",
    "risk_score",
]

RECENT_LIMIT = 20
"""How many warning records ``recent:{loan_id}`` keeps (LTRIM), newest first."""

STREAM_MAXLEN = 100_000
"""Approximate cap (``XADD MAXLEN ~``) of ``stream:warnings``; laggards lose the oldest."""

SEVERITY_WEIGHT: dict[str, int] = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
"""Severity ranks for the top-risk score; every open warning weighs at least 1, so a loan
with any open warning outranks one whose warnings are all resolved (which leaves ``top``)."""

KLASS_RANK: dict[str, int] = {
    name: rank
    for rank, name in enumerate(("normal", "special_mention", "substandard", "doubtful", "loss"))
}
"""Five-category classes from best to worst, for a borrower's ``worst_klass``."""

TERMINAL_RULES: frozenset[str] = frozenset({"written_off"})
"""Rules whose warning ends a loan's monitoring: the view closes the loan (docs/redis.md)."""


def risk_score(severity: str, dpd: int) -> int:
    """Score in ``top``: severity weight * 1000 + dpd, so severity orders first and DPD breaks ties.

    DPD is clamped to 0..999 so it can never lift a loan into the next severity band.
    """
    try:
        weight = SEVERITY_WEIGHT[severity]
    except KeyError:
        raise ValueError(f"unknown severity {severity!r}") from None
    return weight * 1000 + min(max(int(dpd), 0), 999)


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Key names under one prefix; pure string building, no I/O."""

    prefix: str = "lw:"

    def card(self, loan_id: str) -> str:
        """Hash: the loan's risk card (dpd, bucket, klass, last warning time, open count)."""
        return f"{self.prefix}card:{loan_id}"

    def open(self, loan_id: str) -> str:
        """Hash: warning_id -> compact JSON of each open warning of the loan."""
        return f"{self.prefix}open:{loan_id}"

    def recent(self, loan_id: str) -> str:
        """List: the loan's newest warning records (opens and resolutions), capped."""
        return f"{self.prefix}recent:{loan_id}"

    def seen(self, loan_id: str) -> str:
        """Set: ``warning_id:status`` already applied; guards LPUSH/XADD against redelivery."""
        return f"{self.prefix}seen:{loan_id}"

    def loan(self, loan_id: str) -> list[str]:
        """The loan's own keys, as every apply script takes them first: card, open, recent, seen."""
        return [self.card(loan_id), self.open(loan_id), self.recent(loan_id), self.seen(loan_id)]

    def team(self, owner_team: str) -> str:
        """Set: warning ids currently open for a team."""
        return f"{self.prefix}team:{owner_team}"

    def borrower(self, borrower_id: str) -> str:
        """Hash: the borrower's roll-up across loans (per-loan fields and aggregates)."""
        return f"{self.prefix}borrower:{borrower_id}"

    @property
    def team_prefix(self) -> str:
        """What `team` puts before a team name (the script builds team keys itself)."""
        return f"{self.prefix}team:"

    @property
    def model_metrics(self) -> str:
        """Hash: ``<model>/p<partition>`` -> compact JSON of that hub's latest metrics."""
        return f"{self.prefix}model_metrics"

    @property
    def view(self) -> str:
        """String: present while Redis still holds the view; its absence means data loss."""
        return f"{self.prefix}view"

    @property
    def top(self) -> str:
        """Sorted set: loan_id scored by `risk_score` of its worst open warning."""
        return f"{self.prefix}top"

    @property
    def stream(self) -> str:
        """Stream: one entry per newly opened warning, for push consumers."""
        return f"{self.prefix}stream:warnings"
