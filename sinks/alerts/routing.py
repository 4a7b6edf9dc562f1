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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any
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

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')
_ENV = re.compile(r"\$\{([A-Z0-9_]+)\}")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

LABELS = ("team", "severity", "rule", "loan_id", "bucket", "klass", "product", "region", "status")
"""Labels an alert carries (sinks.alerts.model.Alert.labels); matchers and group_by use them."""


MAX_DURATION_S = 366 * 86400.0
"""The longest duration the routing file takes: far past any sane interval, and well
inside what a `datetime` offset can hold (``99999999999h`` would overflow one)."""


def parse_duration(value: Any, where: str, max_s: float = MAX_DURATION_S) -> float:
    """``30s``, ``5m``, ``4h``, ``1d``, ``250ms`` or a number of seconds, as seconds.

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
                f"{where}: expected a duration like 30s or 5m, got {shown(value)}"
            )
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]  # inf when absurdly long
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) if abs(value) < 1e300 else math.copysign(math.inf, value)
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
        return tuple(Matcher(str(k), "=", str(v)) for k, v in raw.items())
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, Sequence):
        raise AlertConfigError(f"{where}: expected a list of matchers")
    return tuple(parse_matcher(str(m), f"{where}[{i}]") for i, m in enumerate(raw))


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


def _expand(text: str, where: str) -> str:
    """``${NAME}`` from the environment, so robot tokens and secrets stay out of the file."""

    def sub(m: re.Match[str]) -> str:
        value = os.environ.get(m.group(1))
        if value is None:
            raise AlertConfigError(f"{where}: environment variable {m.group(1)} is not set")
        return value

    return _ENV.sub(sub, text)


def _route(raw: Any, where: str, parent: Route | None) -> Route:
    if not isinstance(raw, Mapping):
        raise AlertConfigError(f"{where}: expected a mapping")
    known = {
        "receiver", "matchers", "match", "group_by", "group_wait", "group_interval",
        "repeat_interval", "continue", "mute_windows", "mute_time_intervals", "escalation",
        "routes",
    }  # fmt: skip
    unknown = set(raw) - known
    if unknown:
        raise AlertConfigError(f"{where}: unknown key(s) {sorted(unknown)}")

    def inherit(key: str, default: float) -> float:
        if key in raw:
            return parse_duration(raw[key], f"{where}.{key}")
        return default

    receiver = raw.get("receiver") or (parent.receiver if parent else None)
    if not receiver:
        raise AlertConfigError(f"{where}: the root route needs a receiver")
    group_by = raw.get("group_by")
    node = Route(
        id=where,
        matchers=matchers_of(raw.get("matchers", raw.get("match")), f"{where}.matchers"),
        receiver=str(receiver),
        group_by=tuple(group_by) if group_by is not None else (parent.group_by if parent else ()),
        group_wait_s=inherit("group_wait", parent.group_wait_s if parent else 30.0),
        group_interval_s=inherit("group_interval", parent.group_interval_s if parent else 300.0),
        repeat_interval_s=inherit(
            "repeat_interval", parent.repeat_interval_s if parent else 4 * 3600.0
        ),
        continue_=bool(raw.get("continue", False)),
        mute_windows=tuple(
            raw.get("mute_windows", raw.get("mute_time_intervals"))
            or (parent.mute_windows if parent else ())
        ),
        escalation=raw.get("escalation", parent.escalation if parent else None),
    )
    children = tuple(
        _route(child, f"{where}.routes[{i}]", node) for i, child in enumerate(raw.get("routes", []))
    )
    return Route(**{**{f: getattr(node, f) for f in node.__slots__}, "routes": children})


def _receiver(raw: Any, where: str) -> Receiver:
    if not isinstance(raw, Mapping) or not raw.get("name"):
        raise AlertConfigError(f"{where}: a receiver needs a name")
    urls = raw.get("urls", [])
    if isinstance(urls, str):
        urls = [urls]
    ding = raw.get("dingtalk", [])
    if isinstance(ding, Mapping):
        ding = [ding]
    for i, robot in enumerate(ding):
        if not isinstance(robot, Mapping) or not robot.get("token"):
            raise AlertConfigError(f"{where}.dingtalk[{i}]: a DingTalk robot needs a token")
    language = str(raw.get("language", "en"))
    if language not in ("en", "zh-CN"):
        raise AlertConfigError(f"{where}.language: expected en or zh-CN, got {language!r}")
    rate = raw.get("rate_limit", {}) or {}
    receiver = Receiver(
        name=str(raw["name"]),
        urls=tuple(_expand(str(u), f"{where}.urls") for u in urls),
        dingtalk=tuple(
            {k: _expand(v, f"{where}.dingtalk") if isinstance(v, str) else v for k, v in r.items()}
            for r in ding
        ),
        language=language,
        send_resolved=bool(raw.get("send_resolved", True)),
        rate_limit=int(rate.get("count", 20)),
        rate_period_s=parse_duration(rate.get("per", 60), f"{where}.rate_limit.per"),
        max_batch=int(raw.get("max_batch", 20)),
    )
    if not receiver.urls and not receiver.dingtalk:
        raise AlertConfigError(f"{where}: receiver {receiver.name!r} has no urls and no dingtalk")
    if receiver.rate_limit < 1 or receiver.max_batch < 1:
        raise AlertConfigError(f"{where}: rate_limit.count and max_batch must be at least 1")
    return receiver


def _clock(text: Any, where: str) -> time:
    try:
        hour, minute = str(text).split(":")
        return time(int(hour) % 24, int(minute))  # 24:00 reads as midnight
    except ValueError:
        raise AlertConfigError(f"{where}: expected HH:MM, got {text!r}") from None


def _weekdays(raw: Any, where: str) -> frozenset[int]:
    days: set[int] = set()
    for item in raw or []:
        text = str(item).lower()[:7]
        first, _, last = text.partition("-")
        try:
            lo = _WEEKDAYS.index(first[:3])
            hi = _WEEKDAYS.index(last[:3]) if last else lo
        except ValueError:
            raise AlertConfigError(f"{where}: unknown weekday {item!r}") from None
        days.update(range(lo, hi + 1) if lo <= hi else [*range(lo, 7), *range(0, hi + 1)])
    return frozenset(days)


def _mute_window(name: str, raw: Any, where: str) -> MuteWindow:
    if not isinstance(raw, Mapping):
        raise AlertConfigError(f"{where}: expected a mapping")
    zone = str(raw.get("time_zone", "UTC"))
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise AlertConfigError(f"{where}.time_zone: unknown time zone {zone!r}") from None
    intervals = []
    for i, item in enumerate(raw.get("intervals", [])):
        at = f"{where}.intervals[{i}]"
        ranges = tuple(
            TimeRange(_clock(t["start"], f"{at}.times"), _clock(t["end"], f"{at}.times"))
            for t in item.get("times", [])
        )
        intervals.append((_weekdays(item.get("weekdays"), f"{at}.weekdays"), ranges))
    if not intervals:
        raise AlertConfigError(f"{where}: a mute window needs at least one interval")
    return MuteWindow(name, zone, tuple(intervals))


def parse_config(raw: Any, source: str = "alerts config") -> AlertConfig:
    """Validate a loaded YAML document; cross-references (receivers, windows) are checked."""
    if not isinstance(raw, Mapping) or "route" not in raw:
        raise AlertConfigError(f"{source}: expected a mapping with a 'route'")
    receivers: dict[str, Receiver] = {}
    for i, item in enumerate(raw.get("receivers", [])):
        receiver = _receiver(item, f"{source}: receivers[{i}]")
        if receiver.name in receivers:
            raise AlertConfigError(f"{source}: receivers[{i}]: duplicate name {receiver.name!r}")
        receivers[receiver.name] = receiver
    windows = {
        str(name): _mute_window(str(name), item, f"{source}: mute_windows.{name}")
        for name, item in (raw.get("mute_windows") or {}).items()
    }
    escalations: dict[str, EscalationPolicy] = {}
    for name, item in (raw.get("escalation_policies") or {}).items():
        where = f"{source}: escalation_policies.{name}"
        levels = tuple(
            EscalationLevel(
                parse_duration(level.get("after"), f"{where}.levels[{i}].after"),
                str(level.get("receiver")),
            )
            for i, level in enumerate(item.get("levels", []))
        )
        loops = int(item.get("loops", 1))
        if not levels or loops < 1:
            raise AlertConfigError(f"{where}: needs at least one level and loops >= 1")
        escalations[str(name)] = EscalationPolicy(str(name), levels, loops)
    inhibit = tuple(
        InhibitRule(
            matchers_of(item.get("source_matchers"), f"{source}: inhibit_rules[{i}].source"),
            matchers_of(item.get("target_matchers"), f"{source}: inhibit_rules[{i}].target"),
            tuple(item.get("equal", ["loan_id"])),
        )
        for i, item in enumerate(raw.get("inhibit_rules", []))
    )
    config = AlertConfig(
        route=_route(raw["route"], "route", None),
        receivers=receivers,
        escalations=escalations,
        mute_windows=windows,
        inhibit_rules=inhibit,
        ack_url=(str(raw["ack_url"]).rstrip("/") if raw.get("ack_url") else None),
    )
    _check_references(config, source)
    return config


def _check_references(config: AlertConfig, source: str) -> None:
    def walk(route: Route) -> None:
        if route.receiver not in config.receivers:
            raise AlertConfigError(f"{source}: {route.id}: unknown receiver {route.receiver!r}")
        for name in route.mute_windows:
            if name not in config.mute_windows:
                raise AlertConfigError(f"{source}: {route.id}: unknown mute window {name!r}")
        if route.escalation and route.escalation not in config.escalations:
            raise AlertConfigError(f"{source}: {route.id}: unknown escalation {route.escalation!r}")
        for label in route.group_by:
            if label not in LABELS and label != "...":
                raise AlertConfigError(f"{source}: {route.id}.group_by: unknown label {label!r}")
        for child in route.routes:
            walk(child)

    walk(config.route)
    for policy in config.escalations.values():
        for level in policy.levels:
            if level.receiver not in config.receivers:
                raise AlertConfigError(
                    f"{source}: escalation_policies.{policy.name}: unknown receiver "
                    f"{level.receiver!r}"
                )


def load_config(path: Path | str) -> AlertConfig:
    """Read and validate a routing YAML file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AlertConfigError(f"{path}: {exc}") from None
    return parse_config(raw, str(path))
