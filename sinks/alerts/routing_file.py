"""The routing file, read and checked: YAML, then the entries below, then the values of
`sinks.alerts.routing`.

It is read the way every configuration file is (`rules.yaml_config.validate_yaml`):
YAML with positions, validated by a pydantic model, and every problem reported at once
as ``file:line: key: message``, so one run of ``alerts run`` shows all there is to fix.
A mapping built in code (a test, the benchmark) goes through the same model with
`parse_config`; its problems have no line.

The entries take what the file always could say (`sinks.alerts.routing_types`).
Unknown keys are refused in routes, where a typo would send alerts to the wrong
people, and passed over elsewhere, as they always were. Names that refer to other
entries (receivers, mute windows, escalation policies, labels) are checked once
every entry reads well.

>>> cfg = parse_config({"route": {"receiver": "ops", "routes": [{"group_wait": "5s"}]},
...     "receivers": [{"name": "ops", "urls": ["json://127.0.0.1:9/hook"]}]})
>>> child = cfg.route.routes[0]
>>> child.id, child.receiver, child.group_wait_s, child.group_interval_s
('route.routes[0]', 'ops', 5.0, 300.0)
>>> parse_config({"route": {"receiver": "ops", "group_wait": "soon", "colour": "red"}})
Traceback (most recent call last):
...
sinks.alerts.exceptions.AlertConfigError: alerts config: route.group_wait: expected a duration ...; alerts config: route.colour: unknown key
"""  # noqa: E501 - a doctest's expected line cannot wrap

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from rules.yaml_config import validate_data, validate_yaml
from sinks.alerts.exceptions import AlertConfigError, shown
from sinks.alerts.routing import (
    LABELS,
    AlertConfig,
    EscalationLevel,
    EscalationPolicy,
    InhibitRule,
    MuteWindow,
    Receiver,
    Route,
    TimeRange,
)
from sinks.alerts.routing_types import (
    AckUrl,
    Clock,
    Count,
    Duration,
    InheritedDuration,
    InheritedName,
    InheritedTexts,
    InheritedWindows,
    Language,
    Listed,
    Matchers,
    Name,
    OptionalName,
    ReceiverName,
    Robots,
    Section,
    Texts,
    Truthy,
    Urls,
    Weekdays,
    Zone,
    at_least_one,
    null_is,
)

__all__ = ["MAX_ROUTE_DEPTH", "RoutingFile", "load_config", "parse_config"]

MAX_ROUTE_DEPTH = 32
"""Routes nested deeper are a mistake (or a YAML alias pointing at its own parent)."""

_WHAT = "routing keys"
"""What the top level holds, named when a document is not a mapping."""

_ROOT_PARENT = Route(
    id="",
    matchers=(),
    receiver="",
    group_by=(),
    group_wait_s=30.0,
    group_interval_s=300.0,
    repeat_interval_s=4 * 3600.0,
)
"""What the root route inherits: Alertmanager's timings, no grouping, no windows."""

_SPELLINGS = (("matchers", "match"), ("mute_windows", "mute_time_intervals"))
"""Our key and Alertmanager's for the same setting; ours wins when both are given."""

_Loc = tuple[str | int, ...]
_Problem = tuple[_Loc, str]


class _Entry(BaseModel):
    """An entry of the file. Null reads as an entry with no keys, unless the class says not."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    null_is_empty: ClassVar[bool] = True

    @model_validator(mode="before")
    @classmethod
    def _a_mapping(cls, raw: Any) -> Any:
        if raw is None and cls.null_is_empty:
            return {}
        if not isinstance(raw, Mapping):
            raise ValueError(f"expected a mapping, got {shown(raw)}")
        return raw


class RouteEntry(_Entry):
    """A node of the routing tree as written; what it leaves out comes from its parent."""

    model_config = ConfigDict(extra="forbid")
    null_is_empty = False

    receiver: InheritedName = None
    matchers: Matchers = ()
    match: Matchers = ()
    group_by: InheritedTexts = None
    group_wait: InheritedDuration = None
    group_interval: InheritedDuration = None
    repeat_interval: InheritedDuration = None
    continue_: Truthy = Field(default=False, alias="continue")
    mute_windows: InheritedWindows = None
    mute_time_intervals: InheritedWindows = None
    escalation: OptionalName = None
    routes: Annotated[tuple[RouteEntry, ...], Listed] = ()

    @model_validator(mode="before")
    @classmethod
    def _ours_over_alertmanagers(cls, raw: Any) -> Any:
        """With both spellings given, Alertmanager's is passed over, as it always was."""
        if not isinstance(raw, Mapping):
            return raw
        shadowed = {theirs for ours, theirs in _SPELLINGS if ours in raw and theirs in raw}
        return {k: v for k, v in raw.items() if k not in shadowed} if shadowed else raw

    @property
    def windows(self) -> tuple[str, tuple[str, ...]]:
        """The key the mute windows were given under, and their names (none: inherited)."""
        if self.mute_time_intervals:
            return "mute_time_intervals", self.mute_time_intervals
        return "mute_windows", self.mute_windows or ()

    def value(self, id: str, parent: Route) -> Route:
        """This route as the engine reads it, with what it leaves out taken from ``parent``."""
        given = self.model_fields_set
        node = Route(
            id=id,
            matchers=self.matchers or self.match,
            receiver=self.receiver or parent.receiver,
            group_by=parent.group_by if self.group_by is None else self.group_by,
            group_wait_s=_or(self.group_wait, parent.group_wait_s),
            group_interval_s=_or(self.group_interval, parent.group_interval_s),
            repeat_interval_s=_or(self.repeat_interval, parent.repeat_interval_s),
            continue_=self.continue_,
            mute_windows=self.windows[1] or parent.mute_windows,
            escalation=self.escalation if "escalation" in given else parent.escalation,
        )
        children = (child.value(f"{id}.routes[{i}]", node) for i, child in enumerate(self.routes))
        return replace(node, routes=tuple(children))


def _or(value: float | None, inherited: float) -> float:
    return inherited if value is None else value


class RateLimitEntry(_Entry):
    count: Annotated[Count, null_is(20)] = 20
    per: Duration = 60.0


class ReceiverEntry(_Entry):
    null_is_empty = False

    name: ReceiverName
    urls: Urls = ()
    dingtalk: Robots = ()
    language: Language = "en"
    send_resolved: Truthy = True
    rate_limit: RateLimitEntry = RateLimitEntry()
    max_batch: Annotated[Count, null_is(20)] = 20

    @model_validator(mode="after")
    def _somewhere_to_send(self) -> ReceiverEntry:
        if not self.urls and not self.dingtalk:
            raise ValueError(f"receiver {self.name!r} has no urls and no dingtalk")
        return self

    def value(self) -> Receiver:
        return Receiver(
            name=self.name,
            urls=self.urls,
            dingtalk=self.dingtalk,
            language=self.language,
            send_resolved=self.send_resolved,
            rate_limit=self.rate_limit.count,
            rate_period_s=self.rate_limit.per,
            max_batch=self.max_batch,
        )


class TimesEntry(_Entry):
    start: Clock
    end: Clock


class IntervalEntry(_Entry):
    """Weekdays and times of day; no times is the whole day, no weekdays every day."""

    weekdays: Weekdays = frozenset()
    times: Annotated[tuple[TimesEntry, ...], Listed] = ()


class MuteWindowEntry(_Entry):
    null_is_empty = False

    time_zone: Zone = "UTC"
    intervals: Annotated[tuple[IntervalEntry, ...], at_least_one("interval")]

    def value(self, name: str) -> MuteWindow:
        intervals = tuple(
            (i.weekdays, tuple(TimeRange(t.start, t.end) for t in i.times)) for i in self.intervals
        )
        return MuteWindow(name, self.time_zone, intervals)


class LevelEntry(_Entry):
    after: Duration
    receiver: Name


class EscalationEntry(_Entry):
    levels: Annotated[tuple[LevelEntry, ...], at_least_one("level")]
    loops: Annotated[Count, null_is(1)] = 1

    def value(self, name: str) -> EscalationPolicy:
        levels = tuple(EscalationLevel(level.after, level.receiver) for level in self.levels)
        return EscalationPolicy(name, levels, self.loops)


class InhibitEntry(_Entry):
    source_matchers: Matchers = ()
    target_matchers: Matchers = ()
    equal: Texts = ("loan_id",)

    def value(self) -> InhibitRule:
        return InhibitRule(self.source_matchers, self.target_matchers, self.equal)


class RoutingFile(_Entry):
    """The whole file: the routing tree and the entries it names."""

    route: RouteEntry
    receivers: Annotated[tuple[ReceiverEntry, ...], Listed] = ()
    mute_windows: Annotated[dict[Name, MuteWindowEntry], Section] = Field(default_factory=dict)
    escalation_policies: Annotated[dict[Name, EscalationEntry], Section] = Field(
        default_factory=dict
    )
    inhibit_rules: Annotated[tuple[InhibitEntry, ...], Listed] = ()
    ack_url: AckUrl = None

    @model_validator(mode="after")
    def _names_resolve(self) -> RoutingFile:
        """Every name refers to an entry that exists; each problem is placed at its key."""
        receivers = [r.name for r in self.receivers]
        problems = [
            *self._route_problems(self.route, ("route",), set(receivers)),
            *_duplicates(receivers),
            *self._escalation_problems(set(receivers)),
        ]
        if problems:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("routing", "{reason}", {"reason": reason}),
                        loc=loc,
                        input=None,
                    )
                    for loc, reason in problems
                ],
            )
        return self

    def _route_problems(
        self, route: RouteEntry, loc: _Loc, receivers: set[str], depth: int = 0
    ) -> Iterator[_Problem]:
        """What ``route`` names itself (what it inherits was checked where it was given)."""
        if depth > MAX_ROUTE_DEPTH:
            yield loc, f"routes nested deeper than {MAX_ROUTE_DEPTH}"
            return
        if depth == 0 and not route.receiver:
            yield (*loc, "receiver"), "the root route needs a receiver"
        if route.receiver and route.receiver not in receivers:
            yield (*loc, "receiver"), f"unknown receiver {route.receiver!r}"
        key, windows = route.windows
        for i, name in enumerate(windows):
            if name not in self.mute_windows:
                yield (*loc, key, i), f"unknown mute window {name!r}"
        if route.escalation and route.escalation not in self.escalation_policies:
            yield (*loc, "escalation"), f"unknown escalation {route.escalation!r}"
        for i, label in enumerate(route.group_by or ()):
            if label not in LABELS and label != "...":
                yield (*loc, "group_by", i), f"unknown label {label!r}"
        for i, child in enumerate(route.routes):
            yield from self._route_problems(child, (*loc, "routes", i), receivers, depth + 1)

    def _escalation_problems(self, receivers: set[str]) -> Iterator[_Problem]:
        for name, policy in self.escalation_policies.items():
            for i, level in enumerate(policy.levels):
                if level.receiver not in receivers:
                    loc = ("escalation_policies", name, "levels", i, "receiver")
                    yield loc, f"unknown receiver {level.receiver!r}"

    def config(self) -> AlertConfig:
        """The values the alert engine runs on."""
        return AlertConfig(
            route=self.route.value("route", _ROOT_PARENT),
            receivers={r.name: r.value() for r in self.receivers},
            escalations={name: p.value(name) for name, p in self.escalation_policies.items()},
            mute_windows={name: w.value(name) for name, w in self.mute_windows.items()},
            inhibit_rules=tuple(rule.value() for rule in self.inhibit_rules),
            ack_url=self.ack_url.rstrip("/") if self.ack_url else None,
        )


def _duplicates(names: list[str]) -> Iterator[_Problem]:
    for i, name in enumerate(names):
        if name in names[:i]:
            yield ("receivers", i, "name"), f"duplicate name {name!r}"


def parse_config(raw: Any, source: str = "alerts config") -> AlertConfig:
    """The configuration a mapping built in code describes; problems name ``source``."""
    return validate_data(RoutingFile, raw, source, AlertConfigError, _WHAT).config()


def load_config(path: Path | str) -> AlertConfig:
    """Read and check a routing YAML file; every problem is named as ``file:line: key``."""
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
    return validate_yaml(RoutingFile, text, str(path), AlertConfigError, _WHAT).config()
