"""Label matchers in Alertmanager's syntax: ``team="collections"``, ``severity=~"high|critical"``.

Routes, inhibit rules and silences select alerts with them; a silence's matchers also
arrive from the CLI and the HTTP endpoint, so parsing lives apart from the routing file.

>>> parse_matcher('severity=~"high|critical"').matches({"severity": "high"})
True
>>> parse_matcher("team collections")
Traceback (most recent call last):
...
sinks.alerts.exceptions.AlertConfigError: matcher: expected name="value" (or !=, =~, !~), got 'team collections'
"""  # noqa: E501 - a doctest's expected line cannot wrap

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sinks.alerts.exceptions import AlertConfigError, shown

__all__ = ["Matcher", "matcher", "matches_all", "parse_matcher"]

_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label test: ``=``, ``!=``, ``=~`` (full regex match) or ``!~``.

    >>> Matcher("severity", "=~", "high|critical").matches({"severity": "high"})
    True
    >>> Matcher("team", "!=", "fraud").matches({})
    True
    """

    name: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = re.fullmatch(self.value, actual) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def matcher(text: str) -> Matcher:
    """The matcher ``text`` spells; `ValueError` naming the fault if it spells none."""
    match = _MATCHER.match(text)
    if not match:
        raise ValueError(f'expected name="value" (or !=, =~, !~), got {shown(text)}')
    name, op, value = match.groups()
    if "~" in op:
        try:
            re.compile(value)
        except (re.error, RecursionError, OverflowError) as exc:  # deep nesting, huge {n}
            raise ValueError(f"bad regular expression {shown(value)}: {exc}") from None
    return Matcher(name, op, value)


def parse_matcher(text: str, where: str = "matcher") -> Matcher:
    """`matcher`, refusing with an `AlertConfigError` that starts with ``where``."""
    try:
        return matcher(text)
    except ValueError as exc:
        raise AlertConfigError(f"{where}: {exc}") from None


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
