"""The constrained value types every event is built from.

One definition per rule, so "money is integer minor units", "time is an aware
ISO-8601 timestamp" and "a borrower is a pseudonym" mean the same thing on every
event and appear once, identically, in the generated JSON Schemas.

Messages are decoded with pydantic's lax mode (dates arrive as strings), so the
types that lax mode would coerce too eagerly carry their own guard: numbers are
not timestamps, strings and floats are not money.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Final

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

__all__ = [
    "EARLIEST_DAY",
    "LATEST_DAY",
    "SPAN",
    "VISIBLE_ID",
    "MAX_MINOR_UNITS",
    "SCHEMA_VERSION",
    "ContactRef",
    "Count",
    "Currency",
    "Day",
    "Label",
    "Money",
    "PositiveMoney",
    "Pseudonym",
    "Ref",
    "SignedMoney",
    "Text",
    "Timestamp",
    "check_schema_version",
    "json_kind",
]

SCHEMA_VERSION: Final = 1
"""The newest envelope version this code understands."""

MAX_MINOR_UNITS: Final = 2**63 - 1
"""Largest amount accepted: it must fit the signed 64-bit columns downstream."""

EARLIEST_DAY: Final = date(1970, 1, 2)
"""First calendar day an event time (on its own offset) or a due date may name.

Times before 1970 do not fit the DateTime columns downstream, and a time near
year 1 or 9999 overflows the date arithmetic of any day-based rule (the next
due date, a review a year ahead): such values are typos, refused at the door."""

LATEST_DAY: Final = date(2099, 12, 31)
"""Last calendar day an event time (on its own offset) or a due date may name.

`rules.decode.decode_event` checks an event time's day after validation: a bound
inside the validator compared aware datetimes, 1.8 us of an event's 8.5 us decode."""

SPAN: Final = f"{EARLIEST_DAY.isoformat()} and {LATEST_DAY.isoformat()}"
"""The bounds in words, as refusals and the schemas state them."""
_SPAN: Final = SPAN


def json_kind(value: object) -> str:
    """Name a value's JSON type, for messages a producer can act on."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def check_schema_version(version: int) -> int:
    """Refuse envelopes newer than this code: their meaning may have changed."""
    if version > SCHEMA_VERSION:
        raise PydanticCustomError(
            "schema_version_unsupported",
            "unsupported schema_version {version} (max {supported})",
            {"version": version, "supported": SCHEMA_VERSION},
        )
    return version


def _minor_units(value: object) -> object:
    # bool is an int subclass and a float may carry fractions of a cent: neither is money.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PydanticCustomError(
        "money_type",
        "money must be an integer in minor units, got {kind}",
        {"kind": json_kind(value)},
    )


_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?", re.ASCII
)
"""The timestamp's shape, RFC 3339's (the profile of ISO-8601 JSON Schema's date-time
names); pydantic then checks the values (hour 23 at most, no leap second) and refuses
a time without its offset, saying so."""


def _iso_timestamp(value: object) -> object:
    # Lax mode would read a bare number, or a string of digits, as a Unix time in UTC,
    # and take forms no JSON Schema validator does ("09:30" without seconds, "+0800",
    # a space for the T): the contract, and the published schema, say RFC 3339.
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        if _RFC3339.fullmatch(value):
            return value
        raise PydanticCustomError(
            "timestamp_format",
            "not an ISO-8601 timestamp: expected YYYY-MM-DDTHH:MM:SS[.fraction] and Z or ±HH:MM",
        )
    raise PydanticCustomError(
        "timestamp_type",
        "expected an ISO-8601 timestamp string with offset, got {kind}",
        {"kind": json_kind(value)},
    )


VISIBLE_ID: Final = r"^[^\s\p{Cc}\p{Cf}\p{Co}]+$"
r"""Ids and codes: no whitespace, control, format (bidirectional marks and overrides,
zero-width) or private-use character, which make one id look like another on a
screen (unassigned code points pass: adding ``\p{Cn}`` to the class made the
validator's engine accept private-use characters again). Checked by the validator's
own regex engine, not by a Python function per field."""


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: object) -> object:
    # Lax mode would accept numbers and midnight timestamps; a due date is a calendar day.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    got = "a string in another format" if isinstance(value, str) else json_kind(value)
    raise PydanticCustomError(
        "date_type", "expected an ISO-8601 date YYYY-MM-DD, got {got}", {"got": got}
    )


# Shapes of direct identifiers that must never travel as a borrower reference:
# PRC resident ID (18 or 15 characters), PRC mobile number, e-mail address. The
# value is a valid `Ref` by then (no whitespace), so the e-mail's parts need not
# exclude it. Python's \d is any Unicode decimal digit: \p{Nd} in the schema.
_IDENTITY_PATTERN: Final = r"\d{17}[\dXx]|\d{15}|\+?(86)?1\d{10}|[^@]+@[^@]+"
_IDENTITY = re.compile(_IDENTITY_PATTERN)
_IDENTITY_SCHEMA: Final = "^(" + _IDENTITY_PATTERN.replace(r"\d", r"\p{Nd}") + ")$"


def _not_identity(value: str) -> str:
    # A guard against the common leaks, not proof of pseudonymity. The value is
    # deliberately not echoed: it may be the very identifier we refuse.
    if _IDENTITY.fullmatch(value):
        raise PydanticCustomError(
            "identity_leak",
            "looks like an ID number, phone number or e-mail; send the pseudonymous reference",
        )
    return value


_CONTACT_REF = re.compile(r"hmac-sha256:[0-9a-f]{64}|masked:\S*\*{4}\S*")


def _contact_ref(value: str) -> str:
    if _CONTACT_REF.fullmatch(value):
        return value
    raise PydanticCustomError(
        "contact_clear_text",
        "must be 'hmac-sha256:<64 hex>' or 'masked:<value with ****>'; clear text is refused",
    )


_IN_SPAN: Final = (
    "(1970-01-(0[2-9]|[12][0-9]|3[01])"
    "|1970-(0[2-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    "|(197[1-9]|19[89][0-9]|20[0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))"
)
"""A YYYY-MM-DD between `EARLIEST_DAY` and `LATEST_DAY`, as a schema pattern (``format:
date`` adds that the day exists). Checked against the bounds by a unit test."""

_TIMESTAMP_PATTERN: Final = (
    f"^{_IN_SPAN}[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]+)?"
    "([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
"""What the decoder takes as an event time: `_RFC3339`'s shape, the values pydantic
accepts in it, and the day span `rules.decode` checks."""


def _day_schema(schema: dict[str, Any]) -> None:
    # pydantic writes a date's bounds as "ge"/"le", which are not JSON Schema keywords.
    schema.pop("ge", None)
    schema.pop("le", None)
    schema["pattern"] = f"^{_IN_SPAN}$"


Money = Annotated[
    int,
    Field(ge=0, le=MAX_MINOR_UNITS, description="Integer minor units (cents, fen); never a float."),
    BeforeValidator(_minor_units),
]
"""An amount in integer minor units (cents, fen), zero or more."""

PositiveMoney = Annotated[
    int,
    Field(gt=0, le=MAX_MINOR_UNITS, description="Integer minor units, more than zero."),
    BeforeValidator(_minor_units),
]
"""An amount that must be more than zero: a repayment of nothing is not a repayment."""

SignedMoney = Annotated[
    int,
    Field(
        ge=-MAX_MINOR_UNITS,
        le=MAX_MINOR_UNITS,
        description="Integer minor units; negative when the account is overdrawn.",
    ),
    BeforeValidator(_minor_units),
]
"""A balance in minor units; negative when the account is overdrawn."""

Count = Annotated[int, Field(strict=True, ge=0, le=1_000_000)]
"""A non-negative count of things (inquiries, delinquencies)."""

Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    Field(description="ISO 4217 alphabetic code, e.g. CNY."),
]
"""An ISO 4217 alphabetic code such as ``CNY``."""

Ref = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=VISIBLE_ID),
    Field(description="Identifier: 1-128 printable characters, no whitespace."),
]
"""An opaque identifier from a producing system: non-empty, printable, no whitespace."""

Label = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=VISIBLE_ID),
    Field(description="Code: 1-64 printable characters, no whitespace."),
]
"""A short code naming a product, system, channel or team."""

Text = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"\S")]
"""A short human explanation (a reason); must say something."""

Pseudonym = Annotated[
    Ref,
    AfterValidator(_not_identity),
    Field(
        description="Pseudonymous borrower reference; ID numbers, phones and e-mails are refused.",
        json_schema_extra={"not": {"pattern": _IDENTITY_SCHEMA}},
    ),
]
"""A borrower reference that identifies nobody outside the lender."""

ContactRef = Annotated[
    str,
    StringConstraints(max_length=160),
    AfterValidator(_contact_ref),
    Field(
        description="Keyed hash (HMAC-SHA256, hex) or masked form of the new value; never clear.",
        json_schema_extra={"pattern": f"^({_CONTACT_REF.pattern})$"},
    ),
]
"""A new contact detail as a keyed hash or a masked form, never in clear."""

Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_timestamp),
    Field(
        description="RFC 3339 timestamp with UTC offset, e.g. 2024-03-01T09:30:00+08:00; "
        f"on a day between {_SPAN} (the day as written, on its own offset).",
        json_schema_extra={"pattern": _TIMESTAMP_PATTERN},
    ),
]
"""An instant with its UTC offset; naive times are refused."""

Day = Annotated[
    date,
    BeforeValidator(_iso_date),
    Field(
        ge=EARLIEST_DAY,
        le=LATEST_DAY,
        description=f"Calendar day, YYYY-MM-DD, between {SPAN}.",
        json_schema_extra=_day_schema,
    ),
]
"""A calendar day (due dates), ``YYYY-MM-DD``."""
