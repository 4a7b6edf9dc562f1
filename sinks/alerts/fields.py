"""The fields people send to the ack endpoint, checked before anything is queued.

What a person types ends up in chat messages, ClickHouse and other people's terminals,
so it must be plain visible text: a NUL, a right-to-left override or a zero-width space
in a name or ref could disguise who acted or which alert. Each check raises
`RequestRefused` (400) naming the field.

>>> person("alice")
'alice'
>>> person("al\\u202eice")
Traceback (most recent call last):
...
sinks.alerts.exceptions.RequestRefused: by: only visible characters, no control, bidirectional or zero-width ones
"""  # noqa: E501 - a doctest's expected line cannot wrap

from __future__ import annotations

import re
from typing import Any

from sinks.alerts.exceptions import AlertConfigError, RequestRefused, shown
from sinks.alerts.matchers import parse_matcher

__all__ = ["MAX_MATCHERS", "matchers", "person", "ref", "text"]

MAX_NAME = 64
MAX_COMMENT = 500
MAX_MATCHER = 256
MAX_MATCHERS = 20
_REF = re.compile(r"[A-Za-z0-9._:-]{1,128}")
"""Group refs are 12 hex digits and warning ids 24; room to spare, nothing else."""


def text(value: Any, field: str, max_len: int, *, required: bool = True) -> str:
    """A one-line text field: a string of visible characters (and spaces), trimmed."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise RequestRefused(400, f"{field}: expected a string, got {shown(value)}")
    clean: str = value.strip()
    if required and not clean:
        raise RequestRefused(
            400, f"{field}: required (who are you?)" if field == "by" else f"{field}: required"
        )
    if len(clean) > max_len:
        raise RequestRefused(400, f"{field}: at most {max_len} characters")
    if not clean.isprintable():  # no Cc, Cf (bidi, zero-width), Zl, Zp, other spaces, unassigned
        raise RequestRefused(
            400, f"{field}: only visible characters, no control, bidirectional or zero-width ones"
        )
    return clean


def person(value: Any) -> str:
    """``by``: who acts, as recorded and shown to colleagues."""
    return text(value, "by", MAX_NAME)


def ref(value: Any, field: str = "ref") -> str:
    """A group ref or warning id, as printed in messages and by ``alerts list``."""
    if not isinstance(value, str) or not _REF.fullmatch(value):
        raise RequestRefused(
            400,
            f"{field}: expected a group ref or warning id (letters, digits, ._:-), "
            f"got {shown(value)}",
        )
    return value


def matchers(value: Any) -> list[str]:
    """``matchers``: 1 to `MAX_MATCHERS` matcher strings, each parsed here so a typo fails now."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_MATCHERS:
        raise RequestRefused(400, f"matchers: expected a list of 1 to {MAX_MATCHERS} matchers")
    out = []
    for i, item in enumerate(value):
        where = f"matchers[{i}]"
        checked = text(item, where, MAX_MATCHER)
        try:
            parse_matcher(checked, where)
        except AlertConfigError as exc:
            raise RequestRefused(400, str(exc)) from None
        out.append(checked)
    return out
