"""What the routing file means: a tree of routes, receivers, escalation policies, mute windows,
inhibitions, as frozen values.

The shape follows Alertmanager's (``route``/``routes``/``continue``/``group_by``/
``group_wait``/``group_interval``/``repeat_interval``, ``receivers``,
``inhibit_rules``, ``time_intervals``) plus PagerDuty's escalation policies, so an
on-call engineer who knows either reads it without a manual. The alert engine reads
these values; `sinks.alerts.routing_file` makes them from the YAML file, checked.

>>> from sinks.alerts.routing_file import parse_config
>>> cfg = parse_config({"route": {"receiver": "ops"}, "receivers": [{"name": "ops",
...     "urls": ["json://127.0.0.1:9/hook"]}]})
>>> cfg.route.receiver, cfg.route.group_wait_s
('ops', 30.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sinks.alerts.matchers import Matcher

__all__ = [
    "LABELS",
    "AlertConfig",
    "EscalationLevel",
    "EscalationPolicy",
    "InhibitRule",
    "MuteWindow",
    "Receiver",
    "Route",
    "TimeRange",
]

LABELS = ("team", "severity", "rule", "loan_id", "bucket", "klass", "product", "region", "status")
"""Labels an alert carries (sinks.alerts.model.Alert.labels); matchers and group_by use them."""


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
