"""The post-loan events the monitor judges: one frozen record per event type.

Every record shares the envelope of `EventBase` and is told apart by its literal
``type``; `Event` is the discriminated union a decoder validates against, so a
message is checked against exactly one model and its errors name that model's
fields. Records are frozen and refuse unknown fields: a typo in a producer is
caught at the door instead of silently dropping data a rule depends on.

Amounts on loan-level events (installments, repayments, promises, write-offs)
are in the loan's currency, stated once by ``loan_disbursed``; account and
bureau events carry their own ``currency``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from rules.fields import (
    SCHEMA_VERSION,
    ContactRef,
    Count,
    Currency,
    Day,
    Label,
    Money,
    PositiveMoney,
    Pseudonym,
    Ref,
    SignedMoney,
    Text,
    Timestamp,
    check_schema_version,
)

__all__ = [
    "EVENT_TYPES",
    "NOTE_INTENTS",
    "AccountBalance",
    "AccountTransaction",
    "BureauReport",
    "CollateralValuation",
    "CollectionNote",
    "ContactChange",
    "Event",
    "EventBase",
    "Installment",
    "InstallmentDue",
    "LoanDisbursed",
    "NoteIntent",
    "NoteLabelled",
    "NoteText",
    "PromiseToPay",
    "RepaymentReceived",
    "RepaymentReversed",
    "Restructure",
    "StatementIssued",
    "WriteOff",
]


def _type_is_required(schema: dict[str, Any]) -> None:
    # `type` has a default so Python code need not repeat it, but on the wire a
    # message without `type` cannot be routed: the schema must say it is required.
    required = schema.setdefault("required", [])
    if "type" in schema.get("properties", {}) and "type" not in required:
        required.insert(0, "type")


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Installment(_Record):
    """One line of a repayment schedule."""

    seq: int = Field(strict=True, ge=1, le=1200)
    due_date: Day
    principal: Money
    interest: Money
    fees: Money


def _check_schedule(schedule: tuple[Installment, ...]) -> tuple[Installment, ...]:
    # DPD is measured from the oldest unpaid due date: a schedule out of order or
    # with gaps would make every later judgement wrong, so refuse it here.
    for index, line in enumerate(schedule):
        if line.seq != index + 1:
            raise PydanticCustomError(
                "schedule_seq",
                "seq must run 1, 2, 3… in order; item {index} has seq {seq}",
                {"index": index, "seq": line.seq},
            )
        if index and line.due_date <= schedule[index - 1].due_date:
            raise PydanticCustomError(
                "schedule_dates",
                "due dates must increase; item {index} is due on or before item {previous}",
                {"index": index, "previous": index - 1},
            )
    return schedule


Schedule = Annotated[
    tuple[Installment, ...],
    Field(
        min_length=1,
        max_length=1200,
        description="The installments: seq runs 1, 2, 3… in order, due dates increase and, "
        "on loan_disbursed, the principals add up to the loan's principal (checked by the "
        "worker; JSON Schema cannot express it).",
    ),
    AfterValidator(_check_schedule),
]


class EventBase(_Record):
    """The envelope every event carries.

    ``borrower_id`` is a pseudonymous reference; values shaped like an ID
    number, phone number or e-mail are refused so identity cannot leak into
    topics, state stores and analytics through this field.
    """

    model_config = ConfigDict(json_schema_extra=_type_is_required)

    event_id: Ref
    loan_id: Ref
    borrower_id: Pseudonym
    event_time: Timestamp
    source: Label
    schema_version: int = Field(
        strict=True,
        ge=1,
        description="Envelope version the producer wrote; newer than supported is refused.",
        json_schema_extra={"maximum": SCHEMA_VERSION},
    )

    @field_validator("schema_version")
    @classmethod
    def _supported_version(cls, version: int) -> int:
        return check_schema_version(version)


class LoanDisbursed(EventBase):
    """The loan was paid out; starts monitoring and fixes the schedule."""

    type: Literal["loan_disbursed"] = "loan_disbursed"
    principal: PositiveMoney
    currency: Currency
    product: Label
    disbursed_account: Ref
    interest_rate_bps: int = Field(strict=True, ge=0, le=100_000)
    schedule: Schedule

    @field_validator("schedule")
    @classmethod
    def _schedule_repays_principal(
        cls, schedule: tuple[Installment, ...], info: ValidationInfo
    ) -> tuple[Installment, ...]:
        principal = info.data.get("principal")  # absent when principal itself was invalid
        scheduled = sum(line.principal for line in schedule)
        if principal is not None and scheduled != principal:
            raise PydanticCustomError(
                "schedule_principal",
                "installment principals add up to {scheduled}, not the principal {principal}",
                {"scheduled": scheduled, "principal": principal},
            )
        return schedule


class InstallmentDue(EventBase):
    """An installment reached its due date (the clock's own event)."""

    type: Literal["installment_due"] = "installment_due"
    seq: int = Field(strict=True, ge=1, le=1200)
    due_date: Day
    amount_due: Money


class RepaymentReceived(EventBase):
    """Money arrived against the loan."""

    type: Literal["repayment_received"] = "repayment_received"
    amount: PositiveMoney
    kind: Literal["full", "partial", "early"]
    payer_account: Ref
    payer_is_third_party: StrictBool
    channel: Label


class RepaymentReversed(EventBase):
    """An earlier repayment bounced or was recalled; it no longer counts."""

    type: Literal["repayment_reversed"] = "repayment_reversed"
    reversed_event_id: Ref
    reason: Text


CounterpartyCategory = Literal[
    "salary",
    "securities",
    "property",
    "other_lender",
    "own_account",
    "merchant",
    "cash",
    "government",
    "business",
    "other",
]


class AccountTransaction(EventBase):
    """A movement on one of the borrower's accounts (fund use, income, multi-lending)."""

    type: Literal["account_transaction"] = "account_transaction"
    account: Ref
    direction: Literal["in", "out"]
    amount: PositiveMoney
    currency: Currency
    counterparty_category: CounterpartyCategory
    balance_after: SignedMoney


class AccountBalance(EventBase):
    """A balance snapshot of one of the borrower's accounts."""

    type: Literal["account_balance"] = "account_balance"
    account: Ref
    balance: SignedMoney
    currency: Currency


class BureauReport(EventBase):
    """What a credit bureau says about the borrower's debts elsewhere."""

    type: Literal["bureau_report"] = "bureau_report"
    bureau: Label
    new_delinquencies: Count
    inquiries: Count
    inquiry_window_days: int = Field(strict=True, ge=1, le=3660)
    has_lawsuit: StrictBool
    has_enforcement: StrictBool
    total_external_debt: Money
    currency: Currency


class ContactChange(EventBase):
    """A contact detail changed. The new value is a keyed hash or masked, never clear text."""

    type: Literal["contact_change"] = "contact_change"
    changed: Literal["phone", "address", "email", "employer"]
    new_value_ref: ContactRef


class StatementIssued(EventBase):
    """A billing statement of a revolving line (a card, an overdraft) behind the loan.

    How a borrower treats a statement says more than DPD while the loan is
    still current: who pays the whole bill, who only the minimum, whose balance
    climbs towards the limit. Each statement carries the figures printed on it,
    so it reads on its own, whatever arrived before it.
    """

    type: Literal["statement_issued"] = "statement_issued"
    previous_balance: SignedMoney
    payments: Money
    balance: SignedMoney
    minimum_due: Money
    credit_limit: PositiveMoney | None = None
    currency: Currency


class CollateralValuation(EventBase):
    """A new valuation of collateral securing the loan (loan-to-value signals)."""

    type: Literal["collateral_valuation"] = "collateral_valuation"
    collateral_id: Ref
    value: PositiveMoney
    currency: Currency


class PromiseToPay(_Record):
    """A borrower's promise: both the day and the amount, or no promise at all."""

    date: Day
    amount: PositiveMoney


NoteText = Annotated[str, Field(min_length=1, max_length=10_000, pattern=r"\S")]
"""The text of a collection note or borrower message: up to 10,000 characters, not blank."""


class CollectionNote(EventBase):
    """A collector's note; text rules read it for hardship, dispute or refusal."""

    type: Literal["collection_note"] = "collection_note"
    text: NoteText
    author_team: Label
    promise_to_pay: PromiseToPay | None = None


NoteIntent = Literal["promise_to_pay", "hardship", "dispute", "refusal", "unreachable", "other"]
"""What a note says, as collectors label it; the text model (`models.intent`) learns
these names and the ClickHouse writer accepts them, both reading `NOTE_INTENTS`."""

NOTE_INTENTS: tuple[str, ...] = get_args(NoteIntent)
"""The intent labels in a fixed order."""


class NoteLabelled(EventBase):
    """A collector's later reading of an earlier collection note: what it really said.

    The worker teaches the text model with it, so later notes are read better.
    The note's text travels with the label because the worker keeps no old note
    texts. The loan's state learns nothing from it, and no rule of the default
    pack reads it: a label is about the model, not the loan.
    """

    type: Literal["note_labelled"] = "note_labelled"
    note_event_id: Ref
    intent: NoteIntent
    text: NoteText
    labelled_by: Label


class Restructure(EventBase):
    """The loan was given a new schedule and enters an observation period."""

    type: Literal["restructure"] = "restructure"
    schedule: Schedule
    reason: Text
    observation_months: int = Field(strict=True, ge=1, le=60)


class WriteOff(EventBase):
    """The lender gave up on collecting the amount; monitoring ends."""

    type: Literal["write_off"] = "write_off"
    amount: PositiveMoney
    reason: Text


Event = Annotated[
    LoanDisbursed
    | InstallmentDue
    | RepaymentReceived
    | RepaymentReversed
    | AccountTransaction
    | AccountBalance
    | BureauReport
    | ContactChange
    | CollateralValuation
    | StatementIssued
    | CollectionNote
    | NoteLabelled
    | Restructure
    | WriteOff,
    Field(discriminator="type"),
]
"""Any event; validate with a TypeAdapter and pydantic routes on ``type``."""

EVENT_TYPES: dict[str, type[EventBase]] = {
    model.model_fields["type"].default: model for model in get_args(get_args(Event)[0])
}
"""Wire name of each event type to its record class, in union order."""
