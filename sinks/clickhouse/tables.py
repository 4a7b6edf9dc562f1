"""The analysts' tables, and the pure conversion of one Kafka message into one row.

Every output Loanwatch writes (docs/warnings.md) may arrive more than once, always
with the same id and body, so the tables that hold them are ReplacingMergeTrees:
rows sharing an order key collapse on merge, and ``FINAL`` collapses them at read
time. The order key is therefore chosen twice over: its trailing columns are the
record's identity, and its leading columns are functions of that identity which
analysts filter on (a warning id hashes its loan and rule, an action id its kind,
name and day), so putting them first speeds the common filters without ever
splitting two copies of one record.

- ``warnings``: identity (warning_id, status), so a warning's ``open`` and
  ``resolved`` rows both persist; version ``produced_at`` (the latest judgement
  of a redelivered record wins). Partitioned by month of ``event_time``, which
  is part of the body, so copies always land in one partition.
- ``transitions``: no id on the wire; identity is the whole change (loan, kind,
  day, from, to), which is what a redelivery repeats.
- ``actions``: identity ``action_id``; version ``produced_at``.
- ``dead_letters``: what the writer could not store, with the reason; identity is
  the Kafka position, so a batch replayed after a crash does not list a row twice.
- ``model_metrics``: each partition hub's progressive figures at each checkpoint
  (streams/model_metrics.py); ordered model first and then time, because the
  question is "model X over time". Identity is (model, produced_at, partition,
  model_version): ``DateTime`` on 18.16 keeps whole seconds, and one partition may
  checkpoint twice in a second; two such records collapse only when no label was
  learned between them (the version counts labels), i.e. when their figures are
  equal. Figures not defined yet are null.

Bodies are parsed strictly here (types, required fields, UTC offsets) so a bad
message becomes a `BadMessage` with a reason instead of an exception mid-insert.
Ranges are left to ClickHouse: the writer isolates rows it rejects. Loanwatch's
outputs carry no money today; a money field would be an ``Kind.INT64`` column in
minor units, never a float.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import msgspec
import orjson

from sinks.clickhouse.dialect import Column, Kind, Table

__all__ = [
    "ACTIONS",
    "DEAD_LETTERS",
    "MODEL_METRICS",
    "SCHEMA_MIGRATIONS",
    "TABLES",
    "TRANSITIONS",
    "WARNINGS",
    "BadMessage",
    "Field",
    "checked_row",
    "columnar",
    "instant_field",
    "row_of",
    "schema_version_field",
    "string_field",
]

WARNINGS = Table(
    "warnings",
    (
        Column("warning_id", Kind.STRING),
        Column("status", Kind.LABEL),
        Column("loan_id", Kind.STRING),
        Column("borrower_id", Kind.STRING),
        Column("rule_id", Kind.LABEL),
        Column("rule_version", Kind.UINT32),
        Column("pack_digest", Kind.LABEL),
        Column("severity", Kind.LABEL),
        Column("owner_team", Kind.LABEL),
        Column("message", Kind.STRING),
        Column("episode", Kind.UINT32),
        Column("episode_key", Kind.STRING),
        Column("reasons", Kind.STRING),  # the JSON list of {name, value}, as sent
        Column("score", Kind.FLOAT64, nullable=True),
        Column("dpd", Kind.UINT32),
        Column("bucket", Kind.LABEL),
        Column("klass", Kind.LABEL),
        Column("event_id", Kind.STRING, nullable=True),
        Column("event_time", Kind.TIME),
        Column("produced_at", Kind.TIME),
        Column("schema_version", Kind.UINT8),
    ),
    order_by=("rule_id", "loan_id", "warning_id", "status"),
    engine="ReplacingMergeTree",
    version_column="produced_at",
    partition_by="toYYYYMM(event_time)",
)

TRANSITIONS_V1 = Table(
    "transitions",
    (
        Column("loan_id", Kind.STRING),
        Column("kind", Kind.LABEL),
        Column("from_label", Kind.LABEL),  # `from` on the wire: a keyword in SQL
        Column("to_label", Kind.LABEL),
        Column("effective_on", Kind.DAY),  # `on` on the wire
        Column("event_id", Kind.STRING, nullable=True),
        Column("schema_version", Kind.UINT8),
    ),
    order_by=("kind", "effective_on", "loan_id", "from_label", "to_label"),
    engine="ReplacingMergeTree",
    partition_by="toYYYYMM(effective_on)",
)
"""The table as migration 1 created it; frozen, because its checksum is on record."""

TRANSITION_STATE = (
    Column("borrower_id", Kind.STRING, nullable=True),
    Column("dpd", Kind.UINT32, nullable=True),
    Column("bucket", Kind.LABEL, nullable=True),
    Column("klass", Kind.LABEL, nullable=True),
    Column("event_time", Kind.TIME, nullable=True),
    Column("produced_at", Kind.TIME, nullable=True),
)
"""What a transition has carried since its step's state was added to it (migration 6).

Nullable because transitions sent before then lack these fields: they are stored
with nulls, not refused, and not given a made-up day or DPD."""

TRANSITIONS = replace(TRANSITIONS_V1, columns=TRANSITIONS_V1.columns + TRANSITION_STATE)

ACTIONS = Table(
    "actions",
    (
        Column("action_id", Kind.STRING),
        Column("kind", Kind.LABEL),
        Column("name", Kind.LABEL),
        Column("loan_id", Kind.STRING),
        Column("borrower_id", Kind.STRING),
        Column("due_on", Kind.DAY),
        Column("reason", Kind.LABEL),
        Column("params", Kind.STRING),  # the JSON object, as sent
        Column("event_id", Kind.STRING, nullable=True),
        Column("produced_at", Kind.TIME),
        Column("schema_version", Kind.UINT8),
    ),
    order_by=("kind", "name", "due_on", "action_id"),
    engine="ReplacingMergeTree",
    version_column="produced_at",
    partition_by="toYYYYMM(due_on)",
)

DEAD_LETTERS = Table(
    "dead_letters",
    (
        Column("topic", Kind.LABEL),
        Column("kafka_partition", Kind.UINT32),
        Column("kafka_offset", Kind.INT64),
        Column("target", Kind.LABEL),  # the table the row was meant for
        Column("raw", Kind.STRING),  # the message value, undecoded
        Column("reason", Kind.STRING),
        Column("failed_at", Kind.TIME),
    ),
    order_by=("topic", "kafka_partition", "kafka_offset"),
    engine="ReplacingMergeTree",
    version_column="failed_at",
    partition_by="toYYYYMM(failed_at)",
)

MODEL_METRICS = Table(
    "model_metrics",
    (
        Column("model", Kind.LABEL),
        Column("partition", Kind.UINT32),  # the events topic's partition the hub learns from
        Column("model_version", Kind.STRING),
        Column("n", Kind.INT64),
        Column("roc_auc", Kind.FLOAT64, nullable=True),
        Column("log_loss", Kind.FLOAT64, nullable=True),
        Column("brier", Kind.FLOAT64, nullable=True),
        Column("precision", Kind.FLOAT64, nullable=True),
        Column("threshold", Kind.FLOAT64, nullable=True),
        Column("alerts", Kind.INT64, nullable=True),
        Column("accuracy", Kind.FLOAT64, nullable=True),
        Column("produced_at", Kind.TIME),
        Column("schema_version", Kind.UINT8),
    ),
    order_by=("model", "produced_at", "partition", "model_version"),
    engine="ReplacingMergeTree",
    partition_by="toYYYYMM(produced_at)",
)

SCHEMA_MIGRATIONS = Table(
    "schema_migrations",
    (
        Column("version", Kind.UINT32),
        Column("name", Kind.STRING),
        Column("applied_at", Kind.TIME),
        Column("checksum", Kind.STRING),
    ),
    order_by=("version",),
)

TABLES: Mapping[str, Table] = {
    t.name: t for t in (WARNINGS, TRANSITIONS, ACTIONS, DEAD_LETTERS, MODEL_METRICS)
}
"""The tables the writer fills, by name (what a topic maps to)."""


class BadMessage(ValueError):
    """A message that cannot become a row; ``str()`` is the reason stored with it.

    ``table`` names the table the message was for when its topic feeds more than
    one (the events topic: sinks/clickhouse/book.py); None means the topic's own.
    """

    def __init__(self, reason: str, *, table: str | None = None) -> None:
        super().__init__(reason)
        self.table = table


@dataclass(frozen=True, slots=True)
class Field:
    """One wire field of a row: its name and the parser that checks and converts it.

    Parsers raise `BadMessage` with the reason; `checked_row` adds the field's name.
    """

    key: str  # the wire name
    parse: Callable[[Any], Any]
    optional: bool = False  # may be null
    added: bool = False  # may also be absent: added to the contract after messages were sent


def string_field(value: Any) -> str:
    if not isinstance(value, str):
        raise BadMessage(f"expected a string, got {type(value).__name__}")
    return value


def _integer(value: Any) -> int:
    # bool is an int in Python but never one on the wire.
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadMessage(f"expected an integer, got {type(value).__name__}")
    return value


def _number(value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise BadMessage(f"expected a number, got {type(value).__name__}")
    return float(value)


def instant_field(value: Any) -> datetime:
    try:
        # upper(): RFC 3339 allows "t" and "z", which fromisoformat refuses.
        parsed = datetime.fromisoformat(string_field(value).upper())
    except ValueError:
        raise BadMessage(f"not an ISO-8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise BadMessage(f"time without a UTC offset: {value!r}")
    return parsed.astimezone(UTC)


def _day(value: Any) -> date:
    try:
        return date.fromisoformat(string_field(value))
    except ValueError:
        raise BadMessage(f"not an ISO date: {value!r}") from None


_JSON_KINDS: dict[Callable[[Any], Any], type] = {}
"""The JSON type each `_json_text` parser takes (for the fast path's signatures)."""


def _json_text(kind: type) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, kind):
            raise BadMessage(f"expected a JSON {kind.__name__}, got {type(value).__name__}")
        return orjson.dumps(value).decode()

    _JSON_KINDS[parse] = kind
    return parse


def schema_version_field(value: Any) -> int:
    version = _integer(value)
    if version != 1:
        # A future version may change a field's meaning; storing it as v1 would lie.
        raise BadMessage(f"unsupported schema_version {version}")
    return version


_WIRE: dict[str, tuple[Field, ...]] = {
    "warnings": (
        Field("warning_id", string_field),
        Field("status", string_field),
        Field("loan_id", string_field),
        Field("borrower_id", string_field),
        Field("rule_id", string_field),
        Field("rule_version", _integer),
        Field("pack_digest", string_field),
        Field("severity", string_field),
        Field("owner_team", string_field),
        Field("message", string_field),
        Field("episode", _integer),
        Field("episode_key", string_field),
        Field("reasons", _json_text(list)),
        Field("score", _number, optional=True),
        Field("dpd", _integer),
        Field("bucket", string_field),
        Field("klass", string_field),
        Field("event_id", string_field, optional=True),
        Field("event_time", instant_field),
        Field("produced_at", instant_field),
        Field("schema_version", schema_version_field),
    ),
    "transitions": (
        Field("loan_id", string_field),
        Field("kind", string_field),
        Field("from", string_field),
        Field("to", string_field),
        Field("on", _day),
        Field("event_id", string_field, optional=True),
        Field("schema_version", schema_version_field),
        Field("borrower_id", string_field, optional=True, added=True),
        Field("dpd", _integer, optional=True, added=True),
        Field("bucket", string_field, optional=True, added=True),
        Field("klass", string_field, optional=True, added=True),
        Field("event_time", instant_field, optional=True, added=True),
        Field("produced_at", instant_field, optional=True, added=True),
    ),
    "actions": (
        Field("action_id", string_field),
        Field("kind", string_field),
        Field("name", string_field),
        Field("loan_id", string_field),
        Field("borrower_id", string_field),
        Field("due_on", _day),
        Field("reason", string_field),
        Field("params", _json_text(dict)),
        Field("event_id", string_field, optional=True),
        Field("produced_at", instant_field),
        Field("schema_version", schema_version_field),
    ),
    "model_metrics": (
        Field("model", string_field),
        Field("partition", _integer),
        Field("model_version", string_field),
        Field("n", _integer),
        Field("roc_auc", _number, optional=True),
        Field("log_loss", _number, optional=True),
        Field("brier", _number, optional=True),
        Field("precision", _number, optional=True),
        Field("threshold", _number, optional=True),
        Field("alerts", _integer, optional=True),
        Field("accuracy", _number, optional=True),
        Field("produced_at", instant_field),
        Field("schema_version", schema_version_field),
    ),
}


def row_of(table: str, value: bytes | None) -> tuple[Any, ...]:
    """One message value as a row of ``table``'s columns, in column order.

    Raises `BadMessage` (never anything else) for a value that is not JSON, not an
    object, lacks a field, or has a field of the wrong type. Fields the contract
    does not know are ignored, as docs/warnings.md asks of every consumer.

    A well-formed message takes one fast path (`_Shape`, msgspec). Anything else
    goes through the field-by-field path, which names the field at fault.
    """
    shape = _SHAPES.get(table)
    if shape is None:
        raise ValueError(f"no wire format for table {table!r}")
    if value is None:
        raise BadMessage("empty message (tombstone)")
    row = shape.fast(value)
    if row is not None:
        return row
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadMessage(f"not JSON: {exc}") from None
    return checked_row(_WIRE[table], body)


def checked_row(fields: tuple[Field, ...], body: Any) -> tuple[Any, ...]:
    """The field-by-field conversion: slower, and its errors name the field."""
    if not isinstance(body, dict):
        raise BadMessage(f"expected a JSON object, got {type(body).__name__}")
    row: list[Any] = []
    for field in fields:
        if field.key not in body:
            if field.added:
                row.append(None)
                continue
            raise BadMessage(f"missing field {field.key!r}")
        raw = body[field.key]
        if raw is None and field.optional:
            row.append(None)
            continue
        if raw is None:
            raise BadMessage(f"field {field.key!r} is null")
        try:
            row.append(field.parse(raw))
        except BadMessage as exc:
            raise BadMessage(f"field {field.key!r}: {exc}") from None
    return tuple(row)


_AWARE = Annotated[datetime, msgspec.Meta(tz=True)]

_TYPES: dict[Callable[[Any], Any], Any] = {
    string_field: str,
    _integer: int,
    _number: float,  # msgspec takes a JSON integer here too, as a float
    instant_field: _AWARE,
    _day: date,
    schema_version_field: Literal[1],
}
"""The msgspec type that accepts what each parser accepts (JSON text fields aside)."""


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class _Shape:
    """The fast path for one table: the message decoded and typed by msgspec, in C.

    ``fast(value)`` returns the row, or None whenever anything is off (not JSON, a
    missing field, an unexpected type, a bad time); the caller then takes the
    checked path, which finds the same fault and names it. Both paths accept the
    same messages and produce the same rows (tests/unit/sinks/test_clickhouse_tables.py);
    the checked path alone also takes times Python reads but RFC 3339 does not
    (``2026-03-04 16:00``), so nothing valid is refused.

    msgspec rather than orjson plus per-field checks: decoding and checking a
    warning costs about a quarter as much, and parsing was the writer's largest
    cost (bench/sink_writers.py).
    """

    def __init__(self, name: str, fields: tuple[Field, ...]) -> None:
        spec: list[tuple[str, Any, Any] | tuple[str, Any]] = []
        self.convert: list[tuple[int, Callable[[Any], Any]]] = []
        for i, f in enumerate(fields):
            kind = _TYPES.get(f.parse)
            if kind is None:  # a JSON list or object, kept as compact text
                kind = _JSON_KINDS[f.parse]
                self.convert.append((i, _json_dumps))
            elif f.parse is instant_field:
                self.convert.append((i, _utc))
            if f.optional:
                kind = kind | None
            spec.append((f.key, kind, None) if f.added else (f.key, kind))
        struct = msgspec.defstruct(f"_{name}_wire", spec)
        self.decode = msgspec.json.Decoder(struct).decode
        self.astuple = msgspec.structs.astuple

    def fast(self, value: bytes) -> tuple[Any, ...] | None:
        try:
            row = self.astuple(self.decode(value))
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        if self.convert:
            values = list(row)
            for i, convert in self.convert:
                if values[i] is not None:
                    values[i] = convert(values[i])
            row = tuple(values)
        return row


_SHAPES = {table: _Shape(table, fields) for table, fields in _WIRE.items()}


def columnar(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows turned into one list per column: the shape of a native columnar insert.

    Lists, not tuples: clickhouse-driver converts some columns' values in place.
    """
    if not rows:
        return [[] for _ in range(width)]
    if any(len(row) != width for row in rows):
        raise ValueError(f"every row must have {width} values")
    return [list(column) for column in zip(*rows, strict=True)]


# -- Alert events (sinks/alerts): one row per state change of an on-call alert ----------

ALERT_EVENTS = Table(
    "alert_events",
    (
        Column("event_id", Kind.STRING),  # hash of (kind, warning, group, notification, at)
        Column("kind", Kind.LABEL),  # sent | acked | escalated | silenced | inhibited | resolved
        Column("at", Kind.TIME),
        Column("warning_id", Kind.STRING),
        Column("group_ref", Kind.STRING),
        Column("notification_id", Kind.STRING),
        Column("receiver", Kind.LABEL),
        Column("actor", Kind.STRING),  # who acked or resolved; "warning" when the rule did
        Column("level", Kind.UINT8),  # escalation level, 0 for the route's own receiver
        Column("loan_id", Kind.STRING),
        Column("rule_id", Kind.LABEL),
        Column("owner_team", Kind.LABEL),
        Column("severity", Kind.LABEL),
        Column("detail", Kind.STRING),
    ),
    order_by=("kind", "owner_team", "event_id"),
    engine="ReplacingMergeTree",
    partition_by="toYYYYMM(at)",
)
"""Written by the alerts service; identity ``event_id``, and the leading ``kind`` and
``owner_team`` are functions of it, so copies never split."""

API_AUDIT = Table(
    "api_audit",
    (
        Column("request_id", Kind.STRING),  # random per request, also sent as X-Request-Id
        Column("at", Kind.TIME),  # when the request arrived
        Column("subject", Kind.STRING),  # "key:<id>"; "" when no credential was accepted
        Column("name", Kind.STRING),  # the key's name
        Column("role", Kind.LABEL),  # "" when no credential was accepted
        Column("method", Kind.LABEL),
        Column("endpoint", Kind.LABEL),  # the route's template, e.g. /v1/loans/{loan_id}
        Column("target", Kind.STRING),  # the path's id (loan, alert, action), if any
        Column("status", Kind.UINT32),  # the HTTP status answered
        Column("result", Kind.LABEL),  # allowed | denied | refused | failed
        Column("reason", Kind.STRING),  # why denied or refused, as the problem said
        Column("client", Kind.STRING),  # the peer address
        Column("latency_ms", Kind.FLOAT64),
    ),
    order_by=("at", "request_id"),
    partition_by="toYYYYMM(at)",
)
"""Every request to the HTTP API (api/audit.py), allowed or not; kept without a TTL."""
