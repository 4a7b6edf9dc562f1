"""The routing file: a tree of routes, receivers, escalation policies, mute windows, inhibitions.

The shape follows Alertmanager's (``route``/``routes``/``continue``/``group_by``/
``group_wait``/``group_interval``/``repeat_interval``, ``receivers``,
``inhibit_rules``, ``time_intervals``) plus PagerDuty's escalation policies, so an
on-call engineer who knows either reads it without a manual. Everything is parsed
once into frozen values; a mistake raises `AlertConfigError` naming the entry.

>>> cfg = parse_config({"route": {"receiver": "ops"}, "receivers": [{"name": "ops",
...     "urls": ["json://127.0.0.1:9/hook"]}]})
>>> cfg.route.receiver, cfg.route.group_wait_s
('ops', 30.0)
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from sinks.alerts.exceptions import AlertConfigError

__all__ = [
    "MAX_DURATION_S",
    "AlertConfig",
    "EscalationLevel",
    "EscalationPolicy",
    "InhibitRule",
    "Matcher",
    "MuteWindow",
    "Receiver",
    "Route",
    "TimeRange",
    "load_config",
    "parse_config",
    "parse_duration",
    "parse_matcher",
    "shown",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
"""A number and its unit: a bare ``"2"`` (``alerts silence --for 2``) was read as two
seconds where two hours was meant, so text must say which. A YAML number is seconds."""
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')
_ENV = re.compile(r"\$\{([A-Z0-9_]+)\}")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

LABELS = ("team", "severity", "rule", "loan_id", "bucket", "klass", "product", "region", "status")
"""Labels an alert carries (sinks.alerts.model.Alert.labels); matchers and group_by use them."""


MAX_DURATION_S = 366 * 86400.0
"""The longest duration the routing file takes: far past any sane interval, and well
inside what a `datetime` offset can hold (``99999999999h`` would overflow one)."""


def parse_duration(value: Any, where: str, max_s: float = MAX_DURATION_S) -> float:
    """``30s``, ``5m``, ``4h``, ``1d``, ``250ms`` (text needs its unit) or a number of
    seconds, as seconds.

    Bounded by ``max_s``, because every duration ends up added to a `datetime`: an
    unbounded one would fail later, far from the entry that caused it.

    >>> parse_duration("90m", "group_wait")
    5400.0
    >>> parse_duration("91d", "duration", max_s=90 * 86400)
    Traceback (most recent call last):
    ...
    sinks.alerts.exceptions.AlertConfigError: duration: at most 90d, got '91d'
    """
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise AlertConfigError(
                f"{where}: expected a duration with its unit (ms, s, m, h, d) like 30s or 2h, "
                f"got {shown(value)}"
            )
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]  # inf when absurdly long
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) if abs(value) < 1e300 else (math.inf if value > 0 else -math.inf)
    else:
        raise AlertConfigError(f"{where}: expected a duration like 30s or 5m, got {shown(value)}")
    if math.isnan(seconds) or seconds < 0:
        raise AlertConfigError(f"{where}: a duration cannot be negative or NaN, got {shown(value)}")
    if seconds > max_s:
        raise AlertConfigError(f"{where}: at most {_spoken(max_s)}, got {shown(value)}")
    return seconds


def _spoken(seconds: float) -> str:
    """A bound as people write it: ``90d``, ``12h``, else seconds."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def shown(value: Any, limit: int = 60) -> str:
    """A value for an error message: a scalar's repr cut to ``limit``, else its type.

    Never the repr of a container: a YAML file's aliases can make one exponentially large.
    """
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        return "a very long number"
    if value is None or isinstance(value, str | int | float | bool):
        text = repr(value)
        return text if len(text) <= limit else text[: limit - 3] + "..."
    return f"a {type(value).__name__}"


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


def parse_matcher(text: str, where: str = "matcher") -> Matcher:
    """Alertmanager's matcher syntax: ``team="collections"``, ``severity=~"high|critical"``."""
    match = _MATCHER.match(text)
    if not match:
        raise AlertConfigError(f'{where}: expected name="value" (or !=, =~, !~), got {shown(text)}')
    name, op, value = match.groups()
    if "~" in op:
        try:
            re.compile(value)
        except (re.error, RecursionError, OverflowError) as exc:  # deep nesting, huge {n}
            raise AlertConfigError(
                f"{where}: bad regular expression {shown(value)}: {exc}"
            ) from None
    return Matcher(name, op, value)


def matchers_of(raw: Any, where: str) -> tuple[Matcher, ...]:
    """A list of matcher strings, or a mapping of label -> exact value."""
    if raw is None:
        return ()
    if isinstance(raw, Mapping):
        return tuple(
            Matcher(_scalar(k, where), "=", _scalar(v, f"{where}.{k}")) for k, v in raw.items()
        )
    items = _strings(raw, where)
    return tuple(parse_matcher(m, f"{where}[{i}]") for i, m in enumerate(items))


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


@dataclass(frozen=True, slots=True)
class Receiver:
    """Where a group's notifications go: apprise URLs and/or DingTalk robots, in one language.

    ``urls`` are apprise URLs (``json://``, ``slack://``, ``wecombot://``, ``feishu://``,
    ``lark://``, ``mailto://``...); ``dingtalk`` entries use our own channel (signing,
    @mentions by mobile, markdown). ``rate_limit`` messages per ``rate_period_s`` per
    receiver; above it notifications queue and go out batched, never dropped.
    """

    name: str
    urls: tuple[str, ...] = ()
    dingtalk: tuple[Mapping[str, Any], ...] = ()
    language: str = "en"
    send_resolved: bool = True
    rate_limit: int = 20
    rate_period_s: float = 60.0
    max_batch: int = 20


@dataclass(frozen=True, slots=True)
class Route:
    """A node of the routing tree; children inherit what they do not set."""

    id: str
    matchers: tuple[Matcher, ...]
    receiver: str
    group_by: tuple[str, ...]
    group_wait_s: float
    group_interval_s: float
    repeat_interval_s: float
    continue_: bool = False
    mute_windows: tuple[str, ...] = ()
    escalation: str | None = None
    routes: tuple[Route, ...] = ()


@dataclass(frozen=True, slots=True)
class EscalationLevel:
    after_s: float
    receiver: str


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    """PagerDuty-style: unacked ``after_s`` past the previous notice -> the next level.

    After the last level the policy starts over at the first, ``loops`` times in all.
    """

    name: str
    levels: tuple[EscalationLevel, ...]
    loops: int = 1


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: time
    end: time  # end <= start: the range runs past midnight into the next day

    def covers(self, moment: time) -> tuple[bool, bool]:
        """(in the part on the listed day, in the part spilling into the next day)."""
        if self.start < self.end:
            return self.start <= moment < self.end, False
        return moment >= self.start, moment < self.end


@dataclass(frozen=True, slots=True)
class MuteWindow:
    """Recurring hours (nights, weekends) in a time zone during which a route stays quiet.

    Each interval lists weekdays and time ranges; no times means the whole day, no
    weekdays means every day. Notifications are held, not dropped: the group is
    flushed at its first tick after the window ends, if still firing.
    """

    name: str
    time_zone: str
    intervals: tuple[tuple[frozenset[int], tuple[TimeRange, ...]], ...]

    def active(self, now: datetime) -> bool:
        local = now.astimezone(ZoneInfo(self.time_zone))
        day, moment = local.weekday(), local.time()
        for days, ranges in self.intervals:
            if not ranges:
                if not days or day in days:
                    return True
                continue
            for r in ranges:
                today, spill = r.covers(moment)
                if today and (not days or day in days):
                    return True
                if spill and (not days or (day - 1) % 7 in days):
                    return True
        return False


@dataclass(frozen=True, slots=True)
class InhibitRule:
    """While a firing, unsilenced alert matches ``source``, alerts matching ``target``
    with equal values of the ``equal`` labels are not notified (Alertmanager's rule)."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ("loan_id",)


@dataclass(frozen=True, slots=True)
class AlertConfig:
    route: Route
    receivers: Mapping[str, Receiver]
    escalations: Mapping[str, EscalationPolicy] = field(default_factory=dict)
    mute_windows: Mapping[str, MuteWindow] = field(default_factory=dict)
    inhibit_rules: tuple[InhibitRule, ...] = ()
    ack_url: str | None = None
    """Base URL of the ack endpoint, put into messages as a link (``{ack_url}/ack/{ref}``)."""


_T = TypeVar("_T")

MAX_ROUTE_DEPTH = 32
"""Routes nested deeper are a mistake (or a YAML alias pointing at its own parent)."""


class _Map(dict[Any, Any]):
    """A YAML mapping that remembers its line and its keys' lines, for error messages."""

    line: int | None = None
    key_lines: dict[Any, int]


class _Seq(list[Any]):
    """A YAML sequence that remembers its line."""

    line: int | None = None


class _LineLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` building `_Map` / `_Seq`, and placing every value error at its node."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:  # a 5000-digit int, a 13th month
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value: {exc}", node.start_mark
            ) from None


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[_Map]:
    data = _Map()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    yield data
    data.update(loader.construct_mapping(node))
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            data.key_lines.setdefault(
                loader.construct_object(key_node), key_node.start_mark.line + 1
            )


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> Iterator[_Seq]:
    data = _Seq()
    data.line = node.start_mark.line + 1
    yield data
    data.extend(loader.construct_sequence(node))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


@contextmanager
def _at(raw: Any, key: Any = None) -> Iterator[None]:
    """Errors raised inside are placed at ``raw``'s line (``key``'s, when it has one),
    unless a deeper entry placed them already."""
    try:
        yield
    except AlertConfigError as exc:
        if exc.line is None:
            lines = getattr(raw, "key_lines", {})
            exc.line = (
                lines.get(key) if _hashable(key) and key in lines else getattr(raw, "line", None)
            )
        raise


def _hashable(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _mapping(raw: Any, where: str) -> Mapping[Any, Any]:
    """A mapping entry; an absent one (``None``) reads as empty."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise AlertConfigError(f"{where}: expected a mapping, got {shown(raw)}")
    return raw


def _list(raw: Any, where: str) -> list[Any]:
    """A list entry; an absent one reads as empty."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise AlertConfigError(f"{where}: expected a list, got {shown(raw)}")
    return raw


def _strings(raw: Any, where: str) -> list[str]:
    """A list of strings; one string alone reads as a list of it."""
    items = [raw] if isinstance(raw, str) else _list(raw, where)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise AlertConfigError(f"{where}[{i}]: expected a string, got {shown(item)}")
    return items


def _scalar(raw: Any, where: str) -> str:
    """A name or value written as a string or number."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise AlertConfigError(f"{where}: expected a string, got {shown(raw)}")
    return shown(raw, 10**6) if isinstance(raw, int) and abs(raw) >= 10**100 else str(raw)


def _count(raw: Any, where: str, default: int) -> int:
    """A whole number of at least 1."""
    if raw is None:
        return default
    if isinstance(raw, str) and raw.strip().isdecimal() and len(raw.strip()) <= 9:
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 1_000_000:
        raise AlertConfigError(
            f"{where}: expected a whole number from 1 to 1000000, got {shown(raw)}"
        )
    return raw


def _expand(text: str, where: str) -> str:
    """``${NAME}`` from the environment, so robot tokens and secrets stay out of the file."""

    def sub(m: re.Match[str]) -> str:
        value = os.environ.get(m.group(1))
        if value is None:
            raise AlertConfigError(f"{where}: environment variable {m.group(1)} is not set")
        return value

    return _ENV.sub(sub, text)


def _route(raw: Any, where: str, parent: Route | None, depth: int = 0) -> Route:
    if not isinstance(raw, Mapping):
        raise AlertConfigError(f"{where}: expected a mapping, got {shown(raw)}")
    if depth > MAX_ROUTE_DEPTH:
        raise AlertConfigError(f"{where}: routes nested deeper than {MAX_ROUTE_DEPTH}")
    known = {
        "receiver", "matchers", "match", "group_by", "group_wait", "group_interval",
        "repeat_interval", "continue", "mute_windows", "mute_time_intervals", "escalation",
        "routes",
    }  # fmt: skip
    unknown = set(raw) - known
    if unknown:
        raise AlertConfigError(f"{where}: unknown key(s) {sorted(map(shown, unknown))}")

    def inherit(key: str, default: float) -> float:
        with _at(raw, key):
            return parse_duration(raw[key], f"{where}.{key}") if key in raw else default

    receiver = raw.get("receiver") or (parent.receiver if parent else None)
    if not receiver:
        raise AlertConfigError(f"{where}: the root route needs a receiver")
    group_by = raw.get("group_by")
    windows = raw.get("mute_windows", raw.get("mute_time_intervals"))
    escalation = raw.get("escalation", parent.escalation if parent else None)
    with _at(raw, "receiver"):
        receiver = _scalar(receiver, f"{where}.receiver")
    with _at(raw, "escalation"):
        escalation = None if escalation is None else _scalar(escalation, f"{where}.escalation")
    with _at(raw, "group_by"):
        group = _strings(group_by, f"{where}.group_by") if group_by is not None else None
    with _at(raw, "mute_windows"):
        mutes = _strings(windows, f"{where}.mute_windows") if windows else None
    with _at(raw, "matchers" if "matchers" in raw else "match"):
        matchers = matchers_of(raw.get("matchers", raw.get("match")), f"{where}.matchers")
    node = Route(
        id=where,
        matchers=matchers,
        receiver=receiver,
        group_by=tuple(group) if group is not None else (parent.group_by if parent else ()),
        group_wait_s=inherit("group_wait", parent.group_wait_s if parent else 30.0),
        group_interval_s=inherit("group_interval", parent.group_interval_s if parent else 300.0),
        repeat_interval_s=inherit(
            "repeat_interval", parent.repeat_interval_s if parent else 4 * 3600.0
        ),
        continue_=bool(raw.get("continue", False)),
        mute_windows=tuple(mutes) if mutes else (parent.mute_windows if parent else ()),
        escalation=escalation,
    )
    with _at(raw, "routes"):
        items = _list(raw.get("routes"), f"{where}.routes")
    children = []
    for i, child in enumerate(items):
        with _at(child), _at(items):
            children.append(_route(child, f"{where}.routes[{i}]", node, depth + 1))
    return Route(**{**{f: getattr(node, f) for f in node.__slots__}, "routes": tuple(children)})


def _receiver(raw: Any, where: str) -> Receiver:
    if not isinstance(raw, Mapping) or not raw.get("name"):
        raise AlertConfigError(f"{where}: a receiver needs a name")
    name = _scalar(raw["name"], f"{where}.name")
    with _at(raw, "urls"):
        urls = _strings(raw.get("urls"), f"{where}.urls")
    ding = raw.get("dingtalk")
    with _at(raw, "dingtalk"):
        robots = [ding] if isinstance(ding, Mapping) else _list(ding, f"{where}.dingtalk")
        for i, robot in enumerate(robots):
            if not isinstance(robot, Mapping) or not robot.get("token"):
                raise AlertConfigError(f"{where}.dingtalk[{i}]: a DingTalk robot needs a token")
    language = raw.get("language", "en")
    if language not in ("en", "zh-CN"):
        with _at(raw, "language"):
            raise AlertConfigError(f"{where}.language: expected en or zh-CN, got {shown(language)}")
    with _at(raw, "rate_limit"):
        rate = _mapping(raw.get("rate_limit"), f"{where}.rate_limit")
        with _at(rate, "count"):
            count = _count(rate.get("count"), f"{where}.rate_limit.count", 20)
        with _at(rate, "per"):
            period = parse_duration(rate.get("per", 60), f"{where}.rate_limit.per")
    with _at(raw, "max_batch"):
        max_batch = _count(raw.get("max_batch"), f"{where}.max_batch", 20)
    receiver = Receiver(
        name=name,
        urls=tuple(_expand(u, f"{where}.urls") for u in urls),
        dingtalk=tuple(
            {k: _expand(v, f"{where}.dingtalk") if isinstance(v, str) else v for k, v in r.items()}
            for r in robots
        ),
        language=language,
        send_resolved=bool(raw.get("send_resolved", True)),
        rate_limit=count,
        rate_period_s=period,
        max_batch=max_batch,
    )
    if not receiver.urls and not receiver.dingtalk:
        raise AlertConfigError(f"{where}: receiver {receiver.name!r} has no urls and no dingtalk")
    return receiver


def _clock(text: Any, where: str) -> time:
    hour, sep, minute = _scalar(text, where).partition(":")
    if not (sep and hour.isdigit() and minute.isdigit() and len(hour) <= 2 and len(minute) == 2):
        raise AlertConfigError(f"{where}: expected HH:MM, got {shown(text)}")
    if int(hour) > 24 or int(minute) > 59:
        raise AlertConfigError(f"{where}: expected HH:MM, got {shown(text)}")
    return time(int(hour) % 24, int(minute))  # 24:00 reads as midnight


def _weekdays(raw: Any, where: str) -> frozenset[int]:
    days: set[int] = set()
    for item in _strings(raw, where):
        text = item.lower()[:7]
        first, _, last = text.partition("-")
        try:
            lo = _WEEKDAYS.index(first[:3])
            hi = _WEEKDAYS.index(last[:3]) if last else lo
        except ValueError:
            raise AlertConfigError(f"{where}: unknown weekday {shown(item)}") from None
        days.update(range(lo, hi + 1) if lo <= hi else [*range(lo, 7), *range(0, hi + 1)])
    return frozenset(days)


def _mute_window(name: str, raw: Any, where: str) -> MuteWindow:
    if not isinstance(raw, Mapping):
        raise AlertConfigError(f"{where}: expected a mapping, got {shown(raw)}")
    zone = raw.get("time_zone", "UTC")
    try:
        ZoneInfo(_scalar(zone, f"{where}.time_zone"))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a path-like name
        with _at(raw, "time_zone"):
            raise AlertConfigError(f"{where}.time_zone: unknown time zone {shown(zone)}") from None
    intervals = []
    with _at(raw, "intervals"):
        items = _list(raw.get("intervals"), f"{where}.intervals")
    for i, item in enumerate(items):
        at = f"{where}.intervals[{i}]"
        with _at(item), _at(items):
            item = _mapping(item, at)
            ranges = []
            for t in _list(item.get("times"), f"{at}.times"):
                with _at(t):
                    t = _mapping(t, f"{at}.times")
                    ranges.append(
                        TimeRange(
                            _clock(t.get("start"), f"{at}.times"),
                            _clock(t.get("end"), f"{at}.times"),
                        )
                    )
            with _at(item, "weekdays"):
                intervals.append((_weekdays(item.get("weekdays"), f"{at}.weekdays"), tuple(ranges)))
    if not intervals:
        raise AlertConfigError(f"{where}: a mute window needs at least one interval")
    return MuteWindow(name, str(zone), tuple(intervals))


def parse_config(raw: Any, source: str = "alerts config") -> AlertConfig:
    """Validate a loaded YAML document; cross-references (receivers, windows) are checked.

    Errors name ``source`` and, for a document from `load_config`, the entry's line.
    """
    try:
        with _at(raw):
            return _parse(raw)
    except AlertConfigError as exc:
        placed = AlertConfigError(f"{source}:{exc.line}: {exc}" if exc.line else f"{source}: {exc}")
        placed.line = exc.line
        raise placed from None


def _parse(raw: Any) -> AlertConfig:
    if not isinstance(raw, Mapping) or "route" not in raw:
        raise AlertConfigError("expected a mapping with a 'route'")
    with _at(raw, "receivers"):
        items = _list(raw.get("receivers"), "receivers")
    receivers: dict[str, Receiver] = {}
    for i, item in enumerate(items):
        with _at(item), _at(items):
            receiver = _receiver(item, f"receivers[{i}]")
            if receiver.name in receivers:
                raise AlertConfigError(f"receivers[{i}]: duplicate name {receiver.name!r}")
        receivers[receiver.name] = receiver
    windows = _named(raw, "mute_windows", _mute_window)
    escalations = _named(raw, "escalation_policies", _policy)
    with _at(raw, "inhibit_rules"):
        rules = _list(raw.get("inhibit_rules"), "inhibit_rules")
    inhibit = []
    for i, item in enumerate(rules):
        with _at(item), _at(rules):
            inhibit.append(_inhibit_rule(item, f"inhibit_rules[{i}]"))
    with _at(raw, "ack_url"):
        ack_url = raw.get("ack_url")
        if ack_url is not None and not isinstance(ack_url, str):
            raise AlertConfigError(f"ack_url: expected a URL, got {shown(ack_url)}")
    with _at(raw, "route"):
        route = _route(raw["route"], "route", None)
    config = AlertConfig(
        route=route,
        receivers=receivers,
        escalations=escalations,
        mute_windows=windows,
        inhibit_rules=tuple(inhibit),
        ack_url=ack_url.rstrip("/") if ack_url else None,
    )
    _check_references(config)
    return config


def _named(raw: Any, section: str, parse: Callable[[str, Any, str], _T]) -> dict[str, _T]:
    """A section of named entries (mute windows, escalation policies), each at its own line."""
    with _at(raw, section):
        entries = _mapping(raw.get(section), section)
    parsed = {}
    for name, item in entries.items():
        with _at(item), _at(entries, name):
            key = _scalar(name, section)
            parsed[key] = parse(key, item, f"{section}.{key}")
    return parsed


def _policy(name: str, raw: Any, where: str) -> EscalationPolicy:
    item = _mapping(raw, where)
    levels = []
    with _at(item, "levels"):
        items = _list(item.get("levels"), f"{where}.levels")
    for i, level in enumerate(items):
        with _at(level), _at(items):
            level = _mapping(level, f"{where}.levels[{i}]")
            after = parse_duration(level.get("after"), f"{where}.levels[{i}].after")
            receiver = _scalar(level.get("receiver"), f"{where}.levels[{i}].receiver")
            levels.append(EscalationLevel(after, receiver))
    with _at(item, "loops"):
        loops = _count(item.get("loops"), f"{where}.loops", 1)
    if not levels:
        raise AlertConfigError(f"{where}: needs at least one level")
    return EscalationPolicy(name, tuple(levels), loops)


def _inhibit_rule(raw: Any, where: str) -> InhibitRule:
    item = _mapping(raw, where)
    with _at(item, "source_matchers"):
        source = matchers_of(item.get("source_matchers"), f"{where}.source")
    with _at(item, "target_matchers"):
        target = matchers_of(item.get("target_matchers"), f"{where}.target")
    with _at(item, "equal"):
        equal = _strings(item.get("equal", ["loan_id"]), f"{where}.equal")
    return InhibitRule(source, target, tuple(equal))


def _check_references(config: AlertConfig) -> None:
    def walk(route: Route) -> None:
        if route.receiver not in config.receivers:
            raise AlertConfigError(f"{route.id}: unknown receiver {route.receiver!r}")
        for name in route.mute_windows:
            if name not in config.mute_windows:
                raise AlertConfigError(f"{route.id}: unknown mute window {name!r}")
        if route.escalation and route.escalation not in config.escalations:
            raise AlertConfigError(f"{route.id}: unknown escalation {route.escalation!r}")
        for label in route.group_by:
            if label not in LABELS and label != "...":
                raise AlertConfigError(f"{route.id}.group_by: unknown label {label!r}")
        for child in route.routes:
            walk(child)

    walk(config.route)
    for policy in config.escalations.values():
        for level in policy.levels:
            if level.receiver not in config.receivers:
                raise AlertConfigError(
                    f"escalation_policies.{policy.name}: unknown receiver {level.receiver!r}"
                )


def load_config(path: Path | str) -> AlertConfig:
    """Read and validate a routing YAML file; every error names ``file:line``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AlertConfigError(f"{path}: cannot read it: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise AlertConfigError(f"{path}:{line}: not UTF-8 text") from None
    try:
        raw = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader that adds lines
    except yaml.YAMLError as exc:
        raise AlertConfigError(f"{path}:{_yaml_line(exc, text)}: {_yaml_problem(exc)}") from None
    except RecursionError:
        raise AlertConfigError(f"{path}:1: nested too deeply to read") from None
    if not isinstance(raw, _Map):
        raise AlertConfigError(f"{path}:1: expected a mapping with a 'route'")
    return parse_config(raw, str(path))


def _yaml_line(exc: yaml.YAMLError, text: str) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    position = getattr(exc, "position", None)  # a ReaderError: a character YAML refuses
    return text[: int(position)].count("\n") + 1 if isinstance(position, int) else 1


def _yaml_problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or getattr(exc, "reason", None)
    return f"not valid YAML: {problem}" if problem else "not valid YAML"
