"""A JSON Schema validator as a consumer in another language would run it, for the tests
that hold our published schemas (docs/schemas/) to what the code reads and writes.

Two gaps of the jsonschema package are closed here, both on the side of the standard:
JSON Schema patterns are ECMA-262 regular expressions with Unicode property escapes
(``\\p{Cc}``), which Python's ``re`` cannot compile, so patterns are searched with
the Rust engine pydantic-core ships (its syntax agrees with ECMA-262 on the classes
our patterns use); and ``date-time`` is only asserted when rfc3339-validator is
installed, so it is checked here as RFC 3339 spells it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from pydantic_core import SchemaError, SchemaValidator, core_schema
from pydantic_core import ValidationError as CoreValidationError

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "schemas"
"""The published schemas: events at the top, outputs under ``outputs/``."""

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


@cache
def _searcher(pattern: str) -> SchemaValidator:
    return SchemaValidator(core_schema.str_schema(pattern=pattern))


def _pattern(
    validator: Any, pattern: str, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    try:
        _searcher(pattern).validate_python(instance)
    except CoreValidationError:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = validators.extend(Draft202012Validator, {"pattern": _pattern})
_FORMATS = FormatChecker()


@_FORMATS.checks("date-time")
def _date_time(instance: object) -> bool:
    return not isinstance(instance, str) or _RFC3339.fullmatch(instance) is not None


@_FORMATS.checks("regex", raises=SchemaError)
def _regex(instance: object) -> bool:
    if isinstance(instance, str):
        _searcher(instance)  # compiles, or raises
    return True


@_FORMATS.checks("date", raises=ValueError)
def _date(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", instance, re.ASCII) is None:
        return False
    date.fromisoformat(instance)  # a day that does not exist raises
    return True


@cache
def validator(relative: str) -> Any:
    """The validator of a schema file, named from docs/schemas: ``outputs/warning.json``."""
    schema = orjson.loads((SCHEMAS / relative).read_bytes())
    _Validator(_Validator.META_SCHEMA, format_checker=_FORMATS).validate(schema)
    return _Validator(schema, format_checker=_FORMATS)


def problems(relative: str, instance: Any) -> list[str]:
    """Every way ``instance`` breaks the schema, as ``<path>: <message>`` lines."""
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '$'}: {error.message}"
        for error in validator(relative).iter_errors(instance)
    ]
