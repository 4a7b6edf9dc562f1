"""Durations as people write them (``30s``, ``5m``, ``4h``, ``1d``, ``250ms``), as seconds.

The routing file's intervals, ``alerts silence --for`` and the endpoint's silence
``duration`` all read durations here, so one spelling means the same everywhere.

>>> parse_duration("90m", "group_wait")
5400.0
>>> parse_duration("91d", "duration", max_s=90 * 86400)
Traceback (most recent call last):
...
sinks.alerts.exceptions.AlertConfigError: duration: at most 90d, got '91d'
"""

from __future__ import annotations

import math
import re
from typing import Any

from sinks.alerts.exceptions import AlertConfigError, shown

__all__ = ["MAX_DURATION_S", "parse_duration", "seconds"]

MAX_DURATION_S = 366 * 86400.0
"""The longest duration the routing file takes: far past any sane interval, and well
inside what a `datetime` offset can hold (``99999999999h`` would overflow one)."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
"""A number and its unit: a bare ``"2"`` (``alerts silence --for 2``) was read as two
seconds where two hours was meant, so text must say which. A YAML number is seconds."""
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def seconds(value: Any, max_s: float = MAX_DURATION_S) -> float:
    """A duration (text with its unit, or a number of seconds) as seconds; `ValueError` if not.

    Bounded by ``max_s``, because every duration ends up added to a `datetime`: an
    unbounded one would fail later, far from the entry that caused it.
    """
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(
                "expected a duration with its unit (ms, s, m, h, d) like 30s or 2h, "
                f"got {shown(value)}"
            )
        result = float(match.group(1)) * _UNIT_S[match.group(2)]  # inf when absurdly long
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = float(value) if abs(value) < 1e300 else (math.inf if value > 0 else -math.inf)
    else:
        raise ValueError(f"expected a duration like 30s or 5m, got {shown(value)}")
    if math.isnan(result) or result < 0:
        raise ValueError(f"a duration cannot be negative or NaN, got {shown(value)}")
    if result > max_s:
        raise ValueError(f"at most {_spoken(max_s)}, got {shown(value)}")
    return result


def parse_duration(value: Any, where: str, max_s: float = MAX_DURATION_S) -> float:
    """`seconds`, refusing with an `AlertConfigError` that starts with ``where``."""
    try:
        return seconds(value, max_s)
    except ValueError as exc:
        raise AlertConfigError(f"{where}: {exc}") from None


def _spoken(value: float) -> str:
    """A bound as people write it: ``90d``, ``12h``, else seconds."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value >= size and value % size == 0:
            return f"{int(value // size)}{unit}"
    return f"{value:g}s"
