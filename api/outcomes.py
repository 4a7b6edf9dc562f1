"""An action's outcome, as staff or a collection system report it, turned into events.

The API never changes a loan itself: an outcome becomes a ``collection_note`` on the
events topic (docs/events.md), which the worker judges like any other note (text
rules, promise to pay). When the caller wrote a note and the outcome says what it
means, a ``note_labelled`` follows, so the text model learns from the collector's
own reading. Without a note no label is sent: a sentence made up here would teach
the model our wording, not the borrowers'.

Pure: the events are built and validated against the contract here; sending is the
route's job, and only valid events reach it.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from rules.events import CollectionNote, Event, NoteLabelled, NoteText, PromiseToPay
from rules.fields import SCHEMA_VERSION, Label, Ref

__all__ = ["INTENT", "SOURCE", "OutcomeIn", "outcome_events"]

SOURCE = "loanwatch-api"
Outcome = Literal["contacted", "promise_to_pay", "refused", "unreachable", "dispute"]

INTENT: dict[str, str] = {
    "promise_to_pay": "promise_to_pay",
    "refused": "refusal",
    "unreachable": "unreachable",
    "dispute": "dispute",
}
"""The text model's intent for each outcome that names one; ``contacted`` says nothing."""


class OutcomeIn(BaseModel):
    """The body of ``POST /v1/actions/{action_id}/outcome``."""

    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    note: NoteText | None = None
    """What the collector wrote, in their words."""
    promise_to_pay: PromiseToPay | None = None
    """Required with ``promise_to_pay``, refused otherwise: ``{"date", "amount"}``."""
    team: Label | None = None
    """The team reporting; defaults to the key's team."""
    event_id: Ref | None = None
    """Your id for this outcome: a retry with the same id is judged once."""

    @model_validator(mode="after")
    def _promise_matches(self) -> OutcomeIn:
        if (self.outcome == "promise_to_pay") != (self.promise_to_pay is not None):
            raise ValueError("promise_to_pay: give it exactly when outcome is promise_to_pay")
        return self


def outcome_events(
    body: OutcomeIn, *, loan_id: str, borrower_id: str, team: str, action_id: str, now: datetime
) -> list[Event]:
    """The note and, when it applies, its label; both pass the contract's validation."""
    event_id = body.event_id or f"api-{action_id}-{secrets.token_hex(6)}"
    text = body.note or f"Outcome of action {action_id}: {body.outcome.replace('_', ' ')}."
    common = {
        "loan_id": loan_id,
        "borrower_id": borrower_id,
        "event_time": now,
        "source": SOURCE,
        "schema_version": SCHEMA_VERSION,
    }
    events: list[Event] = [
        CollectionNote(
            event_id=event_id,
            text=text,
            author_team=team,
            promise_to_pay=body.promise_to_pay,
            **common,  # type: ignore[arg-type]
        )
    ]
    intent = INTENT.get(body.outcome)
    if body.note is not None and intent is not None:
        events.append(
            NoteLabelled(
                event_id=f"{event_id}-label",
                note_event_id=event_id,
                intent=intent,
                text=body.note,
                labelled_by=team,
                **common,  # type: ignore[arg-type]
            )
        )
    return events
