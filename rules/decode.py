"""Bytes off the wire in, a typed `Event` out, or an `EventDecodeError` saying why.

This is the one place events are (de)serialised. Decoding never lets a
pydantic or orjson exception escape: every failure becomes an
`EventDecodeError` whose field errors name the field at fault in words a
producer can act on, so the stream adapter can dead-letter the message and
carry on.

Examples
--------
>>> from rules.decode import decode_event, encode_event
>>> raw = (
...     b'{"type": "write_off", "event_id": "e-1", "loan_id": "L-1",'
...     b' "borrower_id": "b-9f2c", "event_time": "2024-03-01T09:30:00+08:00",'
...     b' "source": "core-banking", "schema_version": 1,'
...     b' "amount": 1250000, "reason": "estate settled, remainder unrecoverable"}'
... )
>>> event = decode_event(raw)
>>> event.type, event.amount
('write_off', 1250000)
>>> decode_event(encode_event(event)) == event
True
>>> decode_event(raw.replace(b"+08:00", b""))
Traceback (most recent call last):
...
rules.exceptions.EventDecodeError: event_time: naive datetime, timezone required
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Final

import orjson
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from rules.events import EVENT_TYPES, Event
from rules.exceptions import EventDecodeError, FieldError
from rules.fields import (
    EARLIEST_DAY,
    LATEST_DAY,
    SPAN,
    VISIBLE_ID,
    check_schema_version,
    json_kind,
)

__all__ = ["MAX_EVENT_BYTES", "check_key", "decode_event", "encode_event"]

MAX_EVENT_BYTES: Final = 512 * 1024
"""Default size limit (512 KiB): larger payloads are refused before any parsing work.

The worker's ``LOANWATCH_MAX_EVENT_BYTES`` defaults to the same number, well under
Kafka's default 1 MB message limit, so one figure holds from producer to worker."""

WHOLE_MESSAGE: Final = "$"
"""The `FieldError.field` used when the message as a whole is at fault."""

# Built once: constructing a TypeAdapter compiles a validator, far too slow per message.
_ADAPTER: Final[TypeAdapter[Event]] = TypeAdapter(Event)
_KNOWN_TYPES: Final = ", ".join(sorted(EVENT_TYPES))
_MAX_ID_CHARS: Final = 128
_FIRST: Final = (EARLIEST_DAY.year, EARLIEST_DAY.month, EARLIEST_DAY.day)
_LAST: Final = (LATEST_DAY.year, LATEST_DAY.month, LATEST_DAY.day)


def decode_event(raw: bytes, *, max_bytes: int = MAX_EVENT_BYTES) -> Event:
    """Parse and validate one message.

    Raises `EventDecodeError` for anything that is not a valid event, with
    ``event_id``/``loan_id`` filled in whenever the payload was a JSON object
    that held them.
    """
    if len(raw) > max_bytes:
        reason = f"payload is {len(raw)} bytes, over the {max_bytes}-byte limit"
        raise EventDecodeError([FieldError(WHOLE_MESSAGE, reason)])
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise EventDecodeError([FieldError(WHOLE_MESSAGE, f"not valid JSON: {exc}")]) from exc
    if not isinstance(data, dict):
        reason = f"expected a JSON object, got {json_kind(data)}"
        raise EventDecodeError([FieldError(WHOLE_MESSAGE, reason)])

    version = data.get("schema_version")
    if isinstance(version, float) and version.is_integer():
        version = int(version)
    if isinstance(version, int) and not isinstance(version, bool):
        # A newer envelope may add fields: report the version alone rather than
        # a cascade of "unexpected field" errors that hide the real cause.
        try:
            check_schema_version(version)
        except PydanticCustomError as exc:
            raise _decode_error([FieldError("schema_version", exc.message())], data) from exc

    try:
        event = _ADAPTER.validate_python(data)
    except ValidationError as exc:
        event = _whole_numbers_again(data, exc)
    # On the time's own calendar day: comparing aware datetimes calls the offset's
    # utcoffset() (1.8 us with pydantic's TzInfo), this reads three attributes. An offset
    # is under a day, so the instant stays inside what DateTime columns hold.
    moment = event.event_time
    if not _FIRST <= (moment.year, moment.month, moment.day) <= _LAST:
        reason = f"must be between {SPAN}, got year {moment.year}"
        raise _decode_error([FieldError("event_time", reason)], data)
    return event


def _whole_numbers_again(data: dict[str, Any], exc: ValidationError) -> Event:
    """Validate again with every integral float read as its integer, or raise the errors.

    JSON has one number type: to a JSON Schema validator, and to the published
    schemas, ``100.0`` and ``1e2`` are the integer 100. The models refuse floats
    (money must never carry fractions of a cent), so a message whose only fault is
    such a number is read again with it as an integer. Only after a refusal: the
    integers every producer sends cost nothing more.
    """
    errors = exc.errors()
    if _integral_floats_to_ints(data, errors):
        try:
            return _ADAPTER.validate_python(data)
        except ValidationError as again:
            exc, errors = again, again.errors()
    fields = [FieldError(_path(error), _reason(error)) for error in errors]
    raise _decode_error(fields, data) from exc


_INTEGER_REFUSALS: Final = frozenset({"int_type", "money_type"})
_LARGEST_WHOLE: Final = float(2**63)
"""Larger floats are out of every integer field's bounds: left to be refused as they are."""


def _integral_floats_to_ints(data: dict[str, Any], errors: list[ErrorDetails]) -> bool:
    """Replace in ``data`` each float an integer field refused that has no fraction."""
    changed = False
    for error in errors:
        value = error["input"]
        if (
            error["type"] in _INTEGER_REFUSALS
            and isinstance(value, float)
            and value.is_integer()
            and abs(value) < _LARGEST_WHOLE
        ):
            changed |= _replace(data, error["loc"][1:], int(value))
    return changed


def _replace(data: Any, loc: tuple[str | int, ...], value: int) -> bool:
    """Set ``value`` at ``loc`` (a pydantic error's path) if every step of it is there."""
    if not loc:
        return False
    *path, last = loc
    try:
        for part in path:
            data = data[part]
        if not isinstance(data, dict | list):
            return False
        data[last] = value  # type: ignore[index]
    except (LookupError, TypeError):
        return False
    return True


def check_key(event: Event, key: bytes | None) -> None:
    """Refuse an event whose Kafka message key is not its ``loan_id``.

    Everything about a loan lives on the partition its key hashes to: an event
    keyed otherwise lands beside another loan's state, where it would be judged
    against the wrong record (or start an orphan one) while its own loan never
    sees it. It is a dead letter, never a state change.

    >>> from rules.decode import check_key, decode_event
    >>> event = decode_event(
    ...     b'{"type": "write_off", "event_id": "e-1", "loan_id": "L-1",'
    ...     b' "borrower_id": "b-9f2c", "event_time": "2024-03-01T09:30:00+08:00",'
    ...     b' "source": "core-banking", "schema_version": 1, "amount": 1, "reason": "settled"}'
    ... )
    >>> check_key(event, b"L-1")
    >>> check_key(event, b"L-2")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rules.exceptions.EventDecodeError: key: message key 'L-2' is not the event's loan_id 'L-1'; ...
    """
    expected = event.loan_id.encode()
    if key == expected:
        return
    if not key:
        reason = "missing; events must be keyed by loan_id"
    else:
        shown = key[:_MAX_ID_CHARS].decode("utf-8", "replace")
        reason = (
            f"message key {shown!r} is not the event's loan_id {event.loan_id!r}; "
            "events must be keyed by loan_id"
        )
    raise EventDecodeError(
        [FieldError("key", reason)],
        event_id=event.event_id,
        loan_id=event.loan_id,
        event_type=event.type,
    )


def encode_event(event: Event) -> bytes:
    """Serialise an event as compact JSON with sorted keys.

    Sorted keys make equal events byte-identical, so encodings can be compared,
    hashed and deduplicated; `decode_event` reads them back to an equal event.
    """
    return orjson.dumps(event.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)


def _decode_error(errors: list[FieldError], data: dict[str, Any]) -> EventDecodeError:
    event_type = data.get("type")
    known_type = isinstance(event_type, str) and event_type in EVENT_TYPES
    return EventDecodeError(
        errors,
        event_id=_readable_id(data.get("event_id")),
        loan_id=_readable_id(data.get("loan_id")),
        event_type=event_type if known_type else None,
    )


def _readable_id(value: object) -> str | None:
    # Worth tracing with only if it is a sane identifier (the rule `fields.Ref` applies):
    # garbage, and bidirectional or control characters, stay in the payload, out of
    # the dead letter's headers and the log line.
    if (
        isinstance(value, str)
        and 0 < len(value) <= _MAX_ID_CHARS
        and value.isprintable()
        and not any(c.isspace() for c in value)
    ):
        return value
    return None


def _path(error: ErrorDetails) -> str:
    if error["type"].startswith("union_tag_"):
        return "type"
    # The first location item is the union tag pydantic routed on, not a field.
    loc = error["loc"][1:]
    return ".".join(_part(part) for part in loc) if loc else WHOLE_MESSAGE


_PLAIN_NAME: Final = re.compile(r"[A-Za-z0-9_]{1,64}")


def _part(part: str | int) -> str:
    """A path item as written: a producer's odd key (empty, dotted, control
    characters, very long) is quoted as JSON and cut, so the path stays one
    readable line."""
    text = str(part)
    if _PLAIN_NAME.fullmatch(text):
        return text
    return orjson.dumps(text[:64]).decode()


def _calendar_bound(ctx: dict[str, Any]) -> str:
    """The bound of a date or time field's range error, as pydantic shows it (a repr
    such as ``datetime.date(1970, 1, 2)``), or ``""`` for a number's bound."""
    bound = next(iter(ctx.values()), None)
    text = repr(bound) if isinstance(bound, date) else str(bound)
    return text if text.startswith(("datetime.date(", "datetime.datetime(")) else ""


def _reason(error: ErrorDetails) -> str:
    """Say what is wrong in a producer's words, without echoing free text (it may be personal)."""
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    got = json_kind(error["input"])
    match kind:
        case "missing":
            return "field required"
        case "extra_forbidden":
            return "unexpected field"
        case "timezone_aware":
            return "naive datetime, timezone required"
        case "union_tag_not_found":
            return f"missing event type; known: {_KNOWN_TYPES}"
        case "union_tag_invalid":
            return f"unknown event type {str(ctx['tag'])[:40]!r}; known: {_KNOWN_TYPES}"
        case "int_type" | "int_parsing" | "int_from_float":
            return f"expected an integer, got {got}"
        case "string_type":
            return f"expected a string, got {got}"
        case "bool_type" | "bool_parsing":
            return f"expected true or false, got {got}"
        case "tuple_type" | "list_type":
            return f"expected an array, got {got}"
        case "model_type" | "model_attributes_type" | "dict_type":
            return f"expected an object, got {got}"
        case "literal_error":
            shown = repr(error["input"])[:40] if got == "string" else got
            return f"expected {ctx['expected']}, got {shown}"
        case "string_too_short" if ctx.get("min_length") == 1:
            return "must not be empty"
        case "string_too_short" | "string_too_long":
            return error["msg"].replace("String should", "must")
        case "too_short" | "too_long":
            bound = ctx.get("min_length", ctx.get("max_length"))
            word = "at least" if kind == "too_short" else "at most"
            return f"must have {word} {bound} item(s), got {ctx.get('actual_length')}"
        case "string_pattern_mismatch" if ctx.get("pattern") == r"\S":
            return "must not be blank"
        case "string_pattern_mismatch" if ctx.get("pattern") == VISIBLE_ID:
            return (
                "must be printable, without whitespace: no control, bidirectional, "
                "zero-width or private-use characters"
            )
        case "string_pattern_mismatch":
            return f"must match {ctx['pattern']}"
        case "greater_than_equal" | "less_than" | "less_than_equal" if _calendar_bound(ctx):
            year = str(error["input"])[:4].lstrip("0") or "0"
            return f"must be between {SPAN}, got year {year}"
        case "greater_than" | "greater_than_equal" | "less_than" | "less_than_equal":
            return error["msg"].replace("Input should", "must") + f", got {error['input']}"
        case "datetime_parsing" | "datetime_from_date_parsing":
            return f"not an ISO-8601 timestamp ({ctx.get('error', 'unreadable')})"
        case "date_parsing" | "date_from_datetime_parsing" | "date_from_datetime_inexact":
            return "not a valid calendar date YYYY-MM-DD"
        case _:
            # Our own PydanticCustomErrors already carry a producer-facing message.
            return error["msg"]
