"""Warnings and their episodes: when a rule fires, stays quiet, and resolves.

A rule's condition is judged at every step, but people must hear about a
problem once: an *episode* opens when the condition first holds, stays open
(silent) while it keeps holding, and resolves when it stops (state rules) or
simply ends after its cooldown (event rules, which describe a moment such as
"a partial payment arrived"). The warning id is a hash of (loan, rule, episode
key, episode number), so the open and the resolved warning of one episode
share an id, and a replay of the same inputs yields the same ids: sinks upsert
by id and at-least-once delivery never shows up as a duplicate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from rules.scoring import ModelReason

__all__ = [
    "EpisodeBook",
    "EpisodeState",
    "Reason",
    "RiskWarning",
    "model_drift_warning",
    "warning_id",
]

WarningStatus = Literal["open", "resolved"]

_MAX_KEYS_PER_RULE = 8
"""Bound on remembered episode keys per rule, so a loan's state stays small."""


def warning_id(loan_id: str, rule_id: str, key: str, episode: int, opened: date) -> str:
    """Deterministic id of one episode of one rule on one loan.

    The day the episode opened is part of it, so an episode number that
    restarts after its key was forgotten (see `EpisodeBook`) still gets a new id.

    >>> day = date(2026, 3, 1)
    >>> warning_id("L1", "dpd_30", "", 1, day) == warning_id("L1", "dpd_30", "", 1, day)
    True
    >>> warning_id("L1", "dpd_30", "", 1, day) == warning_id("L1", "dpd_30", "", 2, day)
    False
    """
    text = "\x1f".join((loan_id, rule_id, key, str(episode), str(opened.toordinal())))
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


@dataclass(frozen=True, slots=True)
class Reason:
    """A value that made the rule fire: the vocabulary name and what it was."""

    name: str
    value: Any


@dataclass(frozen=True, slots=True)
class RiskWarning:
    """One output of the rules: an episode opening or resolving.

    ``event_time`` is when the triggering fact happened (the event's time, or
    the tick's day at the cut-off); ``produced_at`` is when the core judged it.
    """

    warning_id: str
    status: WarningStatus
    loan_id: str
    borrower_id: str
    rule_id: str
    rule_version: int
    pack_digest: str
    severity: str
    owner_team: str
    message: str
    episode: int
    episode_key: str
    reasons: tuple[Reason, ...]
    score: float | None
    dpd: int
    bucket: str
    klass: str
    event_id: str | None
    event_time: datetime
    produced_at: datetime
    model_reasons: tuple[ModelReason, ...] = ()
    """When the rule read a model score: the features that pushed the PD most."""
    model_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready mapping (times as ISO-8601), the wire format of risk.warnings."""
        return {
            "schema_version": 1,
            "warning_id": self.warning_id,
            "status": self.status,
            "loan_id": self.loan_id,
            "borrower_id": self.borrower_id,
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "pack_digest": self.pack_digest,
            "severity": self.severity,
            "owner_team": self.owner_team,
            "message": self.message,
            "episode": self.episode,
            "episode_key": self.episode_key,
            "reasons": [{"name": r.name, "value": _jsonable(r.value)} for r in self.reasons],
            "score": self.score,
            "dpd": self.dpd,
            "bucket": self.bucket,
            "klass": self.klass,
            "event_id": self.event_id,
            "event_time": self.event_time.isoformat(),
            "produced_at": self.produced_at.isoformat(),
            "model_reasons": [
                {"name": r.name, "value": r.value, "contribution": r.contribution}
                for r in self.model_reasons
            ],
            "model_version": self.model_version,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass(slots=True)
class EpisodeState:
    """Where one (rule, key) stands: how many episodes so far, and the current one."""

    seq: int = 0
    open: bool = False
    last_opened: date | None = None
    owner: tuple[int, str, str] | None = None
    """(rule version, severity, owner team) of the open episode, kept so that the
    episode can still be resolved in the rule's name by an engine that never saw
    the rule (a worker restarted on a pack without it)."""


@dataclass(slots=True)
class EpisodeBook:
    """Every rule's episodes on one loan; part of the loan's persisted record."""

    by_rule: dict[str, dict[str, EpisodeState]] = field(default_factory=dict)

    def get(self, rule_id: str, key: str) -> EpisodeState | None:
        keys = self.by_rule.get(rule_id)
        return keys.get(key) if keys else None

    def ensure(self, rule_id: str, key: str) -> EpisodeState:
        keys = self.by_rule.setdefault(rule_id, {})
        state = keys.get(key)
        if state is None:
            if len(keys) >= _MAX_KEYS_PER_RULE:
                _forget_oldest_closed(keys)
            state = keys[key] = EpisodeState()
        return state

    def to_obj(self) -> dict[str, dict[str, list[Any]]]:
        return {
            rule_id: {
                key: [s.seq, int(s.open), s.last_opened.toordinal() if s.last_opened else 0]
                + (list(s.owner) if s.open and s.owner is not None else [])
                for key, s in keys.items()
            }
            for rule_id, keys in self.by_rule.items()
        }

    @classmethod
    def from_obj(cls, obj: dict[str, dict[str, list[Any]]]) -> EpisodeBook:
        return cls(
            {
                rule_id: {
                    key: EpisodeState(
                        row[0],
                        bool(row[1]),
                        date.fromordinal(row[2]) if row[2] else None,
                        (row[3], row[4], row[5]) if len(row) == 6 else None,
                    )
                    for key, row in keys.items()
                }
                for rule_id, keys in obj.items()
            }
        )


def _forget_oldest_closed(keys: dict[str, EpisodeState]) -> None:
    closed = [(s.last_opened or date.min, k) for k, s in keys.items() if not s.open]
    if closed:
        del keys[min(closed)[1]]


def model_drift_warning(
    model: str,
    metric: str,
    before: float,
    after: float,
    detected_at: datetime,
    *,
    pack_digest: str,
    now: datetime,
) -> RiskWarning:
    """A warning to team ``models``: a model's ``metric`` drifted (``model``: ``pd/p3``).

    Its subject stands where a loan id would (``model:pd/p3``), so the warnings
    topic and every sink carry it like any other warning; its id is one per
    model, metric and day, so a drift seen again that day is the same warning.
    """
    subject = f"model:{model}"
    day = detected_at.date()
    text = "\x1f".join((subject, metric, day.isoformat()))
    direction = "rose" if after > before else "fell"
    name = model.partition("/")[0]
    where = model.partition("/p")[2]
    return RiskWarning(
        warning_id=hashlib.blake2b(text.encode(), digest_size=12).hexdigest(),
        status="open",
        loan_id=subject,
        borrower_id="",
        rule_id="model_drift",
        rule_version=1,
        pack_digest=pack_digest,
        severity="medium",
        owner_team="models",
        message=(
            f"{name} {metric} {direction} from {before:.4g} to {after:.4g} on partition {where}"
        ),
        episode=1,
        episode_key=metric,
        reasons=(
            Reason("drift.before", before),
            Reason("drift.after", after),
            Reason("drift.metric", metric),
        ),
        score=None,
        dpd=0,
        bucket="",
        klass="",
        event_id=None,
        event_time=detected_at.astimezone(UTC),
        produced_at=now,
    )
