"""The kinds of value the routing file holds, as pydantic types: names, lists, counts,
durations, clock times, weekdays, time zones, matchers, URLs with ``${VAR}`` secrets.

Each is lenient where people are (one string stands for a list of it, ``5`` is the
name ``"5"``, null is an empty list) and strict where a guess would be wrong (a
duration needs its unit, a count is whole). A refusal is a `ValueError` whose text
says what was expected and shows what was given; `sinks.alerts.routing_file` places
it at its key and line.

>>> from pydantic import TypeAdapter
>>> TypeAdapter(Texts).validate_python("team")
('team',)
>>> TypeAdapter(Weekdays).validate_python(["fri-mon"]) == {4, 5, 6, 0}
True
>>> TypeAdapter(Clock).validate_python("24:00")
datetime.time(0, 0)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import time
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, PlainValidator

from sinks.alerts.durations import seconds
from sinks.alerts.exceptions import shown
from sinks.alerts.matchers import Matcher, matcher

__all__ = [
    "AckUrl",
    "Clock",
    "Count",
    "Duration",
    "InheritedDuration",
    "InheritedName",
    "InheritedTexts",
    "InheritedWindows",
    "Language",
    "Listed",
    "Matchers",
    "Name",
    "OptionalName",
    "ReceiverName",
    "Robots",
    "Section",
    "Text",
    "Texts",
    "Truthy",
    "Urls",
    "Weekdays",
    "Zone",
    "at_least_one",
    "null_is",
]

_ENV = re.compile(r"\$\{([A-Z0-9_]+)\}")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _name(raw: Any) -> str:
    """A name or value written as a string or a number (``5`` reads as ``"5"``)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ValueError(f"expected a string, got {shown(raw)}")
    return str(raw)


def _text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"expected a string, got {shown(raw)}")
    return raw


def _listed(raw: Any) -> list[Any]:
    """A list; null reads as an empty one."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError(f"expected a list, got {shown(raw)}")
    return raw


def _one_or_listed(raw: Any) -> list[Any]:
    """A list, or one string standing for a list of it."""
    return [raw] if isinstance(raw, str) else _listed(raw)


def _mapping(raw: Any) -> Mapping[Any, Any]:
    """A mapping (a section of named entries); null reads as an empty one."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"expected a mapping, got {shown(raw)}")
    return raw


def null_is(default: Any) -> BeforeValidator:
    """Null reads as the key's default (``max_batch: ~`` is 20, as if not written)."""
    return BeforeValidator(lambda raw: default if raw is None else raw)


def at_least_one(what: str) -> BeforeValidator:
    """On a tuple of entries a section cannot do without: null and ``[]`` are refused."""

    def check(raw: Any) -> list[Any]:
        items = _listed(raw)
        if not items:
            raise ValueError(f"needs at least one {what}")
        return items

    return BeforeValidator(check)


def _inherited_name(raw: Any) -> str | None:
    """A route's receiver: empty (null, ``""``) reads as unset, taken from the parent."""
    return _name(raw) if raw else None


def _optional_name(raw: Any) -> str | None:
    """A route's escalation: null is "none here", not "the parent's"."""
    return None if raw is None else _name(raw)


def _receiver_name(raw: Any) -> str:
    if not raw:
        raise ValueError("a receiver needs a name")
    return _name(raw)


def _texts_or_none(raw: Any) -> list[Any] | None:
    """A route's ``group_by``: null reads as unset, taken from the parent."""
    return None if raw is None else _one_or_listed(raw)


def _windows(raw: Any) -> list[Any] | None:
    """A route's mute windows: empty reads as unset, taken from the parent."""
    return _one_or_listed(raw) if raw else None


def _count(raw: Any) -> int:
    """A whole number from 1 to 1,000,000; digits in a string count too."""
    if isinstance(raw, str) and raw.strip().isdecimal() and len(raw.strip()) <= 9:
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 1_000_000:
        raise ValueError(f"expected a whole number from 1 to 1000000, got {shown(raw)}")
    return raw


def _duration(raw: Any) -> float:
    return seconds(raw)


def _clock(raw: Any) -> time:
    """``HH:MM``; ``24:00`` reads as midnight."""
    hour, sep, minute = _name(raw).partition(":")
    if not (sep and hour.isdigit() and minute.isdigit() and len(hour) <= 2 and len(minute) == 2):
        raise ValueError(f"expected HH:MM, got {shown(raw)}")
    if int(hour) > 24 or int(minute) > 59:
        raise ValueError(f"expected HH:MM, got {shown(raw)}")
    return time(int(hour) % 24, int(minute))


def _weekdays(raw: Any) -> frozenset[int]:
    """Days (``mon``, ``monday``) and ranges (``mon-fri``, ``sat-mon``), Monday being 0."""
    days: set[int] = set()
    for item in _one_or_listed(raw):
        text = _text(item).lower()[:7]
        first, _, last = text.partition("-")
        try:
            lo = _WEEKDAYS.index(first[:3])
            hi = _WEEKDAYS.index(last[:3]) if last else lo
        except ValueError:
            raise ValueError(f"unknown weekday {shown(item)}") from None
        days.update(range(lo, hi + 1) if lo <= hi else [*range(lo, 7), *range(0, hi + 1)])
    return frozenset(days)


def _zone(raw: Any) -> str:
    name = _name(raw)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a path-like name
        raise ValueError(f"unknown time zone {shown(raw)}") from None
    return name


def _expand(text: str) -> str:
    """``${NAME}`` from the environment, so robot tokens and secrets stay out of the file."""

    def sub(m: re.Match[str]) -> str:
        value = os.environ.get(m.group(1))
        if value is None:
            raise ValueError(f"environment variable {m.group(1)} is not set")
        return value

    return _ENV.sub(sub, text)


def _url(raw: Any) -> str:
    return _expand(_text(raw))


def _robots(raw: Any) -> list[Any]:
    """DingTalk robots: a list of them, or one alone."""
    return [raw] if isinstance(raw, Mapping) else _listed(raw)


def _robot(raw: Any) -> dict[Any, Any]:
    """One robot's settings (token, secret, at_mobiles, url), its texts expanded."""
    if not isinstance(raw, Mapping) or not raw.get("token"):
        raise ValueError("a DingTalk robot needs a token")
    return {k: _expand(v) if isinstance(v, str) else v for k, v in raw.items()}


def _language(raw: Any) -> str:
    if raw not in ("en", "zh-CN"):
        raise ValueError(f"expected en or zh-CN, got {shown(raw)}")
    return str(raw)


def _ack_url(raw: Any) -> str | None:
    if raw is not None and not isinstance(raw, str):
        raise ValueError(f"expected a URL, got {shown(raw)}")
    return raw


def _matchers(raw: Any) -> list[Any]:
    """Matcher strings (or one), or a mapping of label to exact value."""
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        return [Matcher(_name(k), "=", _name(v)) for k, v in raw.items()]
    return _one_or_listed(raw)


def _matcher(raw: Any) -> Matcher:
    return raw if isinstance(raw, Matcher) else matcher(_text(raw))


Name = Annotated[str, PlainValidator(_name)]
Text = Annotated[str, PlainValidator(_text)]
Texts = Annotated[tuple[Text, ...], BeforeValidator(_one_or_listed)]
Count = Annotated[int, PlainValidator(_count)]
Duration = Annotated[float, PlainValidator(_duration)]
Clock = Annotated[time, PlainValidator(_clock)]
Weekdays = Annotated[frozenset[int], PlainValidator(_weekdays)]
Zone = Annotated[str, PlainValidator(_zone)]
Language = Annotated[str, PlainValidator(_language)]
AckUrl = Annotated[str | None, PlainValidator(_ack_url)]
ReceiverName = Annotated[str, PlainValidator(_receiver_name)]
Urls = Annotated[tuple[Annotated[str, PlainValidator(_url)], ...], BeforeValidator(_one_or_listed)]
Robots = Annotated[
    tuple[Annotated[dict[Any, Any], PlainValidator(_robot)], ...], BeforeValidator(_robots)
]
Matchers = Annotated[
    tuple[Annotated[Matcher, PlainValidator(_matcher)], ...], BeforeValidator(_matchers)
]
Truthy = Annotated[bool, BeforeValidator(lambda raw: bool(raw))]
"""Any value, read for its truth (``continue: 1`` is true), as it always was."""
Listed = BeforeValidator(_listed)
"""On a tuple of entries: null reads as none, anything but a list is refused."""
Section = BeforeValidator(_mapping)
"""On a mapping of named entries: null reads as none, anything but a mapping is refused."""

# A route's settings that, left out, are taken from its parent.
InheritedName = Annotated[str | None, PlainValidator(_inherited_name)]
InheritedTexts = Annotated[tuple[Text, ...] | None, BeforeValidator(_texts_or_none)]
InheritedWindows = Annotated[tuple[Text, ...] | None, BeforeValidator(_windows)]
InheritedDuration = Annotated[float | None, PlainValidator(_duration)]
"""Null is refused (not read as "the parent's"), as it always was."""
OptionalName = Annotated[str | None, PlainValidator(_optional_name)]
