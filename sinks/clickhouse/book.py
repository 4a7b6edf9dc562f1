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

from rules.events import NOTE_INTENTS  # the contract's list: the intents a label may give
from sinks.clickhouse.dialect import Column, Kind, Table
from sinks.clickhouse.tables import (
    WARNINGS,
    BadMessage,
    Field,
    checked_row,
    instant_field,
    schema_version_field,
    string_field,
)

__all__ = [
    "LOANS",
    "MODEL_SCORES",
    "NOTE_INTENTS",
    "NOTE_LABELS",
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


_QUOTED = {name: f'"{name}"'.encode() for name in ("loan_disbursed", "note_labelled")}
"""Each book event type's quoted name, looked for in the bytes before decoding."""


def _event(value: bytes | None, event_type: str) -> dict[str, Any] | None:
    """The decoded event when it is of ``event_type``; None, undecoded when it can be, if not.

    The type's quoted name must appear in the bytes, so most events of other types
    are skipped without decoding; `BadMessage` when a candidate is not JSON.
    """
    if not value or _QUOTED[event_type] not in value:
        return None
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadMessage(f"not JSON: {exc}") from None
    return body if isinstance(body, dict) and body.get("type") == event_type else None


def loan_row(value: bytes | None) -> tuple[Any, ...] | None:
    """The ``loans`` row of a ``loan_disbursed`` event; None for any other event.

    Raises `BadMessage` for a disbursement that lacks a field or has one of the
    wrong type (the worker dead-letters such events; this is the writer's guard).
    """
    body = _event(value, "loan_disbursed")
    if body is None:
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


def _intent(value: Any) -> str:
    intent = string_field(value)
    if intent not in NOTE_INTENTS:
        raise BadMessage(f"{intent!r} is not one of {', '.join(NOTE_INTENTS)}")
    return intent


_LABEL_FIELDS = (  # wire name and parser of each NOTE_LABELS column, in column order
    Field("note_event_id", string_field),
    Field("intent", _intent),
    Field("labelled_by", string_field),
    Field("loan_id", string_field),
    Field("borrower_id", string_field),
    Field("event_time", instant_field),  # labelled_at
    Field("event_id", string_field),
    Field("schema_version", schema_version_field),
)


def note_label_row(value: bytes | None) -> tuple[Any, ...] | None:
    """The ``note_labels`` row of a ``note_labelled`` event; None for any other event.

    Checked field by field as the outputs' rows are (`checked_row`): a missing,
    null or mistyped field, an intent the contract does not know, a time without
    a UTC offset or an unknown schema version is a `BadMessage` naming the field.
    """
    body = _event(value, "note_labelled")
    return None if body is None else checked_row(_LABEL_FIELDS, body)


_BOOK = ((LOANS.name, loan_row), (NOTE_LABELS.name, note_label_row))
"""The book's tables and the function that reads each one's row out of an event."""


def book_row(value: bytes | None) -> tuple[str, tuple[Any, ...]] | None:
    """(table, row) for an event of ``postloan.events`` the book keeps; None for the rest.

    Raises `BadMessage` naming the table (``table``) for a disbursement or label
    that cannot be stored. Other event types are skipped without being decoded.
    """
    for table, row_of_event in _BOOK:
        try:
            row = row_of_event(value)
        except BadMessage as exc:
            raise BadMessage(str(exc), table=table) from None
        if row is not None:
            return table, row
    return None


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
