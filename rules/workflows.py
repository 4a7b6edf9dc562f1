"""The routine work: periodic reviews, the collection ladder, care offers.

The monitor emits the *next action* for a person or a downstream system to
take; it does not dial phones. Each action has a deterministic id (loan, kind,
name, day), so a replay or a redelivery never creates a second task.

- Reviews: a first check ``first_after_days`` after disbursement (use of
  funds), then on a cadence set by the five-category class; a downgrade brings
  the next review forward, an upgrade does not push it back.
- Collection ladder: each step is emitted once per delinquency spell, when DPD
  reaches it; a loan that jumps several steps at once (a late replay) gets the
  highest step reached. Current loans get a reminder before each due date.
- Care offers and other rule-driven actions come from rules that name an action.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rules.policy import PolicyError, read_text
from rules.yaml_config import validate_yaml

__all__ = [
    "Action",
    "LadderStep",
    "WorkflowPolicy",
    "WorkflowState",
    "action_id",
    "load_workflow_policy",
    "parse_workflow_policy",
]

ActionKind = Literal["collection_step", "review", "care_offer"]
KLASSES = ("normal", "special_mention", "substandard", "doubtful", "loss")
MAX_CADENCE_DAYS = 3660
"""Longest review cadence accepted (ten years), as for ``first_after_days``."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LadderStep(_Frozen):
    step: str = Field(pattern=r"^[a-z0-9_]+$")
    min_dpd: int = Field(ge=1)
    channel: str


class ReviewPolicy(_Frozen):
    first_after_days: int = Field(ge=0, le=MAX_CADENCE_DAYS)
    # A review date is today plus the cadence: past year 9999 it cannot be written.
    cadence_days: dict[str, Annotated[int, Field(ge=1, le=MAX_CADENCE_DAYS)]]

    @field_validator("cadence_days")
    @classmethod
    def _every_class_has_a_cadence(cls, value: dict[str, int]) -> dict[str, int]:
        missing = [k for k in KLASSES if k not in value]
        unknown = [k for k in value if k not in KLASSES]
        if missing or unknown:
            raise ValueError(
                f"cadence_days must name exactly {KLASSES}; missing {missing}, unknown {unknown}"
            )
        return value


class CollectionPolicy(_Frozen):
    reminder_days_before_due: int = Field(ge=0, le=60)
    ladder: tuple[LadderStep, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ladder_rises(self) -> CollectionPolicy:
        thresholds = [s.min_dpd for s in self.ladder]
        if thresholds != sorted(set(thresholds)):
            raise ValueError("ladder steps must have strictly increasing min_dpd")
        return self


class WorkflowPolicy(_Frozen):
    """Review cadence and collection ladder, validated at load."""

    reviews: ReviewPolicy
    collection: CollectionPolicy


def load_workflow_policy(path: Path | None = None) -> WorkflowPolicy:
    """Read a workflow policy; the default ships in ``rules/policies/workflows.yaml``.

    Raises `PolicyError` naming the file, the key and its line for anything wrong.
    """
    if path is None:
        text = (resources.files("rules") / "policies" / "workflows.yaml").read_text("utf-8")
        return parse_workflow_policy(text, "rules/policies/workflows.yaml")
    return parse_workflow_policy(read_text(path), str(path))


def parse_workflow_policy(text: str, source: str = "<workflows>") -> WorkflowPolicy:
    """Validate workflow policy YAML given as text (``source`` names it in errors)."""
    return validate_yaml(WorkflowPolicy, text, source, PolicyError, "policy keys")


_days: Callable[[int], timedelta] = lru_cache(maxsize=64)(timedelta)
"""``timedelta`` of a whole number of days, made once per number (asked twice per step)."""


def action_id(loan_id: str, kind: str, name: str, day: date) -> str:
    """Deterministic id: one action of a kind and name per loan per day."""
    text = f"{loan_id}\x1f{kind}\x1f{name}\x1f{day.toordinal()}"
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


@dataclass(frozen=True, slots=True)
class Action:
    """The next thing to do about a loan, for people or downstream systems."""

    action_id: str
    kind: ActionKind
    name: str
    loan_id: str
    borrower_id: str
    due_on: date
    reason: str
    params: tuple[tuple[str, Any], ...]
    event_id: str | None
    produced_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "action_id": self.action_id,
            "kind": self.kind,
            "name": self.name,
            "loan_id": self.loan_id,
            "borrower_id": self.borrower_id,
            "due_on": self.due_on.isoformat(),
            "reason": self.reason,
            "params": dict(self.params),
            "event_id": self.event_id,
            "produced_at": self.produced_at.isoformat(),
        }


@dataclass(slots=True)
class WorkflowState:
    """Per-loan workflow memory, persisted with the loan."""

    next_review: date | None = None
    ladder_index: int = -1  # highest ladder step emitted in the current spell
    reminded_for: date | None = None  # due date of the last reminder sent

    def to_obj(self) -> list[int]:
        return [
            self.next_review.toordinal() if self.next_review else 0,
            self.ladder_index,
            self.reminded_for.toordinal() if self.reminded_for else 0,
        ]

    @classmethod
    def from_obj(cls, obj: list[int]) -> WorkflowState:
        review, ladder, reminded = obj
        return cls(
            date.fromordinal(review) if review else None,
            ladder,
            date.fromordinal(reminded) if reminded else None,
        )

    def start(self, disbursed_on: date, policy: WorkflowPolicy) -> None:
        self.next_review = disbursed_on + timedelta(days=policy.reviews.first_after_days)

    def next_wakeup(self, next_due: date | None, policy: WorkflowPolicy) -> date | None:
        """The next day on which time alone makes this workflow act."""
        days = [d for d in (self.next_review, self._reminder_day(next_due, policy)) if d]
        return min(days) if days else None

    def _reminder_day(self, next_due: date | None, policy: WorkflowPolicy) -> date | None:
        if next_due is None or next_due == self.reminded_for:
            return None
        return next_due - _days(policy.collection.reminder_days_before_due)

    def step(
        self,
        *,
        today: date,
        dpd: int,
        klass: str,
        klass_downgraded: bool,
        next_due: date | None,
        active: bool,
        policy: WorkflowPolicy,
    ) -> list[tuple[ActionKind, str, dict[str, Any]]]:
        """Advance to ``today``; return (kind, name, params) of the actions now due."""
        out: list[tuple[ActionKind, str, dict[str, Any]]] = []
        if not active:
            return out
        cadence = policy.reviews.cadence_days
        if klass_downgraded:
            sooner = today + timedelta(days=cadence[klass])
            if self.next_review is None or sooner < self.next_review:
                self.next_review = sooner
        if self.next_review is not None and today >= self.next_review:
            out.append(("review", "periodic_review", {"klass": klass}))
            self.next_review = today + timedelta(days=cadence[klass])

        reminder = self._reminder_day(next_due, policy)
        if reminder is not None and next_due is not None and reminder <= today:
            # Sent once per due date, and only to a current loan before the day itself;
            # a window that passed unsent (late loan, short first period) is closed all the
            # same, or the clock would keep waking the loan for a day already gone.
            if dpd == 0 and today < next_due:
                out.append(
                    ("collection_step", "pre_due_reminder", {"due_date": next_due.isoformat()})
                )
            self.reminded_for = next_due
        if dpd == 0:
            self.ladder_index = -1
        else:
            reached = -1
            for index, step in enumerate(policy.collection.ladder):
                if dpd >= step.min_dpd:
                    reached = index
            if reached > self.ladder_index:
                step = policy.collection.ladder[reached]
                out.append(("collection_step", step.step, {"channel": step.channel, "dpd": dpd}))
                self.ladder_index = reached
        return out
