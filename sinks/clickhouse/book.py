"""Tables the analysts need beyond the outputs' own rows: the loan book and model scores.

- ``loans``: one row per ``loan_disbursed`` event of ``postloan.events``
  (docs/events.md): who, what, how much and when. The outputs never say when a
  loan started, yet vintages (cohorts by origination month) and delinquency
  *rates* (a denominator) need exactly that. Other event types are skipped
  without being decoded; identity is ``loan_id`` (a redelivered or replayed
  disbursement collapses).
- ``note_labels``: one row per ``note_labelled`` event of ``postloan.events``:
  which collection note (``note_event_id``) a collector read as which intent,
  who labelled it and when. Joined with the text-model rules' warnings (whose
  ``event_id`` is the note's), it tells how often the model read a note the way
  the collectors did. The note's text is not stored: free text may name the
  borrower. Identity is the label's ``event_id``; a note labelled twice keeps
  both rows, and the later label is the one that counts.
- ``model_scores``: one row per warning record that carried a model ``score``
  (docs/warnings.md: the PD when the rule read a model score). That is every
  score a rule acted on, not every score a model computed: scores below every
  rule's threshold never leave the worker today. Identity is the warning's
  (warning_id, status), as in ``warnings``.

Risk-state snapshots are not stored: no output carries a periodic state of every
loan, and a stored snapshot would invent rows for loans that sent nothing. A
loan's bucket and class on any day follow from ``transitions`` (a step function
from its disbursement, where it is current, ``M0`` / ``normal``); docs/analytics.md
shows the queries.
"""

from __future__ import annotations

import operator
from datetime import UTC, date, datetime
from typing import Any

import orjson

from sinks.clickhouse.dialect import Column, Kind, Table
from sinks.clickhouse.tables import WARNINGS, BadMessage

__all__ = [
    "LOANS",
    "MODEL_SCORES",
    "NOTE_INTENTS",
    "NOTE_LABELS",
    "BadBookEvent",
    "book_row",
    "loan_row",
    "note_label_row",
    "score_row",
]

LOANS = Table(
    "loans",
    (
        Column("loan_id", Kind.STRING),
        Column("borrower_id", Kind.STRING),
        Column("product", Kind.LABEL),
        Column("currency", Kind.LABEL),
        Column("principal", Kind.INT64),  # minor units
        Column("interest_rate_bps", Kind.UINT32),
        Column("installments", Kind.UINT32),
        Column("first_due_on", Kind.DAY),
        Column("last_due_on", Kind.DAY),
        Column("disbursed_at", Kind.TIME),
        Column("disbursed_on", Kind.DAY),  # the day in the event's own UTC offset
        Column("event_id", Kind.STRING),
        Column("schema_version", Kind.UINT8),
    ),
    order_by=("loan_id",),
    engine="ReplacingMergeTree",
    partition_by="toYYYYMM(disbursed_on)",
)

NOTE_LABELS = Table(
    "note_labels",
    (
        Column("note_event_id", Kind.STRING),
        Column("intent", Kind.LABEL),
        Column("labelled_by", Kind.LABEL),
        Column("loan_id", Kind.STRING),
        Column("borrower_id", Kind.STRING),
        Column("labelled_at", Kind.TIME),
        Column("event_id", Kind.STRING),
        Column("schema_version", Kind.UINT8),
    ),
    # intent and note_event_id are the label's own body, so a redelivered copy of
    # one label never splits; event_id is its identity.
    order_by=("intent", "note_event_id", "event_id"),
    engine="ReplacingMergeTree",
    partition_by="toYYYYMM(labelled_at)",
)

NOTE_INTENTS = ("promise_to_pay", "hardship", "dispute", "refusal", "other")
"""The intents a label may give (docs/events.md; a unit test keeps it equal to the
event contract's list, which the writer does not import: sinks stay apart from the core)."""

_SCORE_COLUMNS = (
    "warning_id",
    "status",
    "loan_id",
    "borrower_id",
    "rule_id",
    "rule_version",
    "pack_digest",
    "score",
    "dpd",
    "bucket",
    "klass",
    "event_time",
    "produced_at",
)

MODEL_SCORES = Table(
    "model_scores",
    tuple(
        Column(c.name, c.kind)  # the score is never null here
        for name in _SCORE_COLUMNS
        for c in WARNINGS.columns
        if c.name == name
    ),
    order_by=("rule_id", "loan_id", "warning_id", "status"),
    engine="ReplacingMergeTree",
    version_column="produced_at",
    partition_by="toYYYYMM(event_time)",
)

_WARNING_INDEX = {c.name: i for i, c in enumerate(WARNINGS.columns)}
_SCORE = _WARNING_INDEX["score"]
_SCORE_OF = operator.itemgetter(*(_WARNING_INDEX[name] for name in _SCORE_COLUMNS))


def score_row(warning: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The ``model_scores`` row of a ``warnings`` row, or None when it has no score."""
    if warning[_SCORE] is None:
        return None
    row: tuple[Any, ...] = _SCORE_OF(warning)
    return row


_DISBURSED = b'"loan_disbursed"'
_LABELLED = b'"note_labelled"'


class BadBookEvent(BadMessage):
    """An event the book wanted that cannot become a row; ``table`` is the one it was for."""

    def __init__(self, table: str, reason: str) -> None:
        super().__init__(reason)
        self.table = table


def book_row(value: bytes | None) -> tuple[str, tuple[Any, ...]] | None:
    """(table, row) for an event of ``postloan.events`` the book keeps; None for the rest.

    Raises `BadBookEvent` (naming the table) for a disbursement or label that
    cannot be stored. Other event types are skipped without being decoded.
    """
    try:
        row = loan_row(value)
    except BadMessage as exc:
        raise BadBookEvent(LOANS.name, str(exc)) from None
    if row is not None:
        return LOANS.name, row
    try:
        row = note_label_row(value)
    except BadMessage as exc:
        raise BadBookEvent(NOTE_LABELS.name, str(exc)) from None
    return None if row is None else (NOTE_LABELS.name, row)


def loan_row(value: bytes | None) -> tuple[Any, ...] | None:
    """The ``loans`` row of a ``loan_disbursed`` event; None for any other event.

    Raises `BadMessage` for a disbursement that lacks a field or has one of the
    wrong type (the worker dead-letters such events; this is the writer's guard).
    """
    if not value or _DISBURSED not in value:
        return None  # another event type: not decoded at all
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadMessage(f"not JSON: {exc}") from None
    if not isinstance(body, dict) or body.get("type") != "loan_disbursed":
        return None
    try:
        schedule = body["schedule"]
        if not isinstance(schedule, list) or not schedule:
            raise BadMessage("schedule must be a non-empty list")
        dues = [date.fromisoformat(line["due_date"]) for line in schedule]
        at = datetime.fromisoformat(body["event_time"])
        if at.tzinfo is None:
            raise BadMessage(f"time without a UTC offset: {body['event_time']!r}")
        row = (
            _text(body, "loan_id"),
            _text(body, "borrower_id"),
            _text(body, "product"),
            _text(body, "currency"),
            _int(body, "principal"),
            _int(body, "interest_rate_bps"),
            len(schedule),
            min(dues),
            max(dues),
            at.astimezone(UTC),
            at.date(),
            _text(body, "event_id"),
            _int(body, "schema_version"),
        )
    except KeyError as exc:
        raise BadMessage(f"missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        if isinstance(exc, BadMessage):
            raise
        raise BadMessage(f"bad disbursement: {exc}") from None
    return row


def note_label_row(value: bytes | None) -> tuple[Any, ...] | None:
    """The ``note_labels`` row of a ``note_labelled`` event; None for any other event.

    Raises `BadMessage` for a label that lacks a field, has one of the wrong type,
    gives an intent the contract does not know or a time without a UTC offset.
    """
    if not value or _LABELLED not in value:
        return None
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadMessage(f"not JSON: {exc}") from None
    if not isinstance(body, dict) or body.get("type") != "note_labelled":
        return None
    try:
        intent = _text(body, "intent")
        if intent not in NOTE_INTENTS:
            raise BadMessage(f"field 'intent': {intent!r} is not one of {', '.join(NOTE_INTENTS)}")
        at = datetime.fromisoformat(_text(body, "event_time"))
        if at.tzinfo is None:
            raise BadMessage(f"time without a UTC offset: {body['event_time']!r}")
        return (
            _text(body, "note_event_id"),
            intent,
            _text(body, "labelled_by"),
            _text(body, "loan_id"),
            _text(body, "borrower_id"),
            at.astimezone(UTC),
            _text(body, "event_id"),
            _int(body, "schema_version"),
        )
    except KeyError as exc:
        raise BadMessage(f"missing field {exc.args[0]!r}") from None
    except ValueError as exc:
        if isinstance(exc, BadMessage):
            raise
        raise BadMessage(f"field 'event_time': {exc}") from None


def _text(body: dict[str, Any], key: str) -> str:
    value = body[key]
    if not isinstance(value, str):
        raise BadMessage(f"field {key!r}: expected a string, got {type(value).__name__}")
    return value


def _int(body: dict[str, Any], key: str) -> int:
    value = body[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadMessage(f"field {key!r}: expected an integer, got {type(value).__name__}")
    return value
