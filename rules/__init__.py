"""The pure domain core of Loanwatch: event contract, and later the rules that judge it.

Nothing in this package performs I/O; adapters in ``streams`` and ``sinks`` feed
it bytes and records and act on the values it returns.
"""

from __future__ import annotations

from rules.decode import MAX_EVENT_BYTES, check_key, decode_event, encode_event
from rules.events import (
    EVENT_TYPES,
    NOTE_INTENTS,
    AccountBalance,
    AccountTransaction,
    BureauReport,
    CollateralValuation,
    CollectionNote,
    ContactChange,
    Event,
    EventBase,
    Installment,
    InstallmentDue,
    LoanDisbursed,
    NoteLabelled,
    PromiseToPay,
    RepaymentReceived,
    RepaymentReversed,
    Restructure,
    StatementIssued,
    WriteOff,
)
from rules.exceptions import EventDecodeError, FieldError, RulesError
from rules.fields import SCHEMA_VERSION

__all__ = [
    "EVENT_TYPES",
    "MAX_EVENT_BYTES",
    "NOTE_INTENTS",
    "SCHEMA_VERSION",
    "AccountBalance",
    "AccountTransaction",
    "BureauReport",
    "CollateralValuation",
    "CollectionNote",
    "ContactChange",
    "Event",
    "EventBase",
    "EventDecodeError",
    "FieldError",
    "Installment",
    "InstallmentDue",
    "LoanDisbursed",
    "NoteLabelled",
    "PromiseToPay",
    "RepaymentReceived",
    "RepaymentReversed",
    "Restructure",
    "StatementIssued",
    "RulesError",
    "WriteOff",
    "check_key",
    "decode_event",
    "encode_event",
]
