"""The alerting core: routing, grouping, dedup, silences, mute windows, inhibition, escalation.

No I/O and no clock of its own: every method takes ``now``, and returns the
notifications to queue and the events to record, so tests drive hours of on-call
life in microseconds and the service decides where things go. The engine does keep
its state (alerts and groups) in itself, because a copy per warning would cost more
than the work; what changed since the last `take_dirty` is tracked so the store
writes only that, in the same Redis transaction as the notifications it caused.

Semantics follow Alertmanager for routing and notification, PagerDuty for acks and
escalation:

- A warning becomes an alert (deduplicated by ``warning_id``: a redelivered open or
  resolution changes nothing). The routing tree picks the first matching child at
  each level, depth first; ``continue`` lets later siblings match too. Each matched
  route puts the alert into a group keyed by (route, receiver, ``group_by`` values).
- A new group waits ``group_wait`` before its first notification; after that it is
  looked at every ``group_interval`` and notified when its firing set changed (or
  something it had notified resolved), or, unchanged, when ``repeat_interval`` has
  passed and some firing alert is still unacknowledged.
- Silenced, inhibited and muted-window alerts are held, not forgotten: they are
  notified at the first look after the silence, source or window is gone.
- An ack (of one alert or of a whole group) stops repeats and escalation for what
  it covered; a new alert in the group starts them again. Escalation: a group with
  a policy that is still unacked ``after`` a level's delay is sent to that level's
  receiver, level by level, the whole ladder ``loops`` times at most.

>>> from datetime import UTC, datetime, timedelta
>>> from sinks.alerts.model import alert_from_warning
>>> from sinks.alerts.routing_file import parse_config
>>> engine = AlertEngine(parse_config({"route": {"receiver": "ops", "group_by": ["team"],
...     "group_wait": "30s"}, "receivers": [{"name": "ops", "urls": ["json://127.0.0.1/x"]}]}))
>>> t0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
>>> for n in range(3):
...     body = {"warning_id": f"w{n}", "status": "open", "loan_id": f"L-00000{n}",
...         "borrower_id": "bw-1", "rule_id": "dpd_30", "severity": "high",
...         "owner_team": "collections", "dpd": 30, "bucket": "M1",
...         "klass": "special_mention", "event_time": "2026-03-04T16:00:00+00:00"}
...     _ = engine.ingest(alert_from_warning(body, b"key"), t0)
>>> engine.tick(t0 + timedelta(seconds=29)).notifications
[]
>>> [(n.kind, len(n.firing)) for n in engine.tick(t0 + timedelta(seconds=30)).notifications]
[('firing', 3)]
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sinks.alerts.exceptions import UnknownAlert
from sinks.alerts.matchers import matches_all
from sinks.alerts.model import Alert, AlertEvent, Notification, Silence
from sinks.alerts.routing import AlertConfig, Route

__all__ = [
    "AlertState",
    "Dirty",
    "AlertEngine",
    "GroupState",
    "Outcome",
    "group_ref",
    "route_alert",
]


def group_ref(key: str) -> str:
    """The short, stable name of a group that people type: ``loanwatch alerts ack 3f9c...``."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def route_alert(route: Route, labels: Mapping[str, str]) -> list[Route]:
    """The routes an alert goes to (Alertmanager's tree walk); the root when nothing deeper."""
    if not matches_all(route.matchers, labels):
        return []
    matched: list[Route] = []
    for child in route.routes:
        hits = route_alert(child, labels)
        if hits:
            matched.extend(hits)
            if not child.continue_:
                break
    return matched or [route]


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass
class AlertState:
    """An alert and what has happened to it; kept after it resolves, for dedup."""

    alert: Alert
    first_seen: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    acked_at: datetime | None = None
    acked_by: str | None = None
    held: str = ""  # "", "silenced" or "inhibited": the reason it was last kept back

    @property
    def firing(self) -> bool:
        return self.resolved_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert": self.alert.to_dict(),
            "first_seen": self.first_seen.isoformat(),
            "resolved_at": _iso(self.resolved_at),
            "resolved_by": self.resolved_by,
            "acked_at": _iso(self.acked_at),
            "acked_by": self.acked_by,
            "held": self.held,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AlertState:
        return cls(
            alert=Alert.from_dict(raw["alert"]),
            first_seen=datetime.fromisoformat(raw["first_seen"]),
            resolved_at=_time(raw.get("resolved_at")),
            resolved_by=raw.get("resolved_by"),
            acked_at=_time(raw.get("acked_at")),
            acked_by=raw.get("acked_by"),
            held=raw.get("held", ""),
        )


@dataclass
class GroupState:
    """One aggregation group: its alerts and its notification and escalation clocks."""

    key: str
    route_id: str
    receiver: str
    labels: dict[str, str]
    created_at: datetime
    next_flush: datetime
    alerts: list[str] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)  # firing ids in the last notification
    last_sent: datetime | None = None
    seq: int = 0
    esc_step: int = 0  # escalation notices sent since the last (re)start
    esc_next: datetime | None = None

    @property
    def ref(self) -> str:
        return group_ref(self.key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "route_id": self.route_id,
            "receiver": self.receiver,
            "labels": self.labels,
            "created_at": self.created_at.isoformat(),
            "next_flush": self.next_flush.isoformat(),
            "alerts": self.alerts,
            "notified": self.notified,
            "last_sent": _iso(self.last_sent),
            "seq": self.seq,
            "esc_step": self.esc_step,
            "esc_next": _iso(self.esc_next),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> GroupState:
        return cls(
            key=raw["key"],
            route_id=raw["route_id"],
            receiver=raw["receiver"],
            labels=dict(raw["labels"]),
            created_at=datetime.fromisoformat(raw["created_at"]),
            next_flush=datetime.fromisoformat(raw["next_flush"]),
            alerts=list(raw["alerts"]),
            notified=list(raw["notified"]),
            last_sent=_time(raw.get("last_sent")),
            seq=int(raw["seq"]),
            esc_step=int(raw["esc_step"]),
            esc_next=_time(raw.get("esc_next")),
        )


@dataclass(frozen=True, slots=True)
class Dirty:
    """State changed since the last `AlertEngine.take_dirty`."""

    alerts: list[AlertState]
    groups: list[GroupState]
    dropped_groups: list[str]
    dropped_alerts: list[str]


@dataclass
class Outcome:
    """What a call decided: notifications to queue and events to record."""

    notifications: list[Notification] = field(default_factory=list)
    events: list[AlertEvent] = field(default_factory=list)
    duplicate: bool = False

    def extend(self, other: Outcome) -> None:
        self.notifications.extend(other.notifications)
        self.events.extend(other.events)


class AlertEngine:
    """The alert state machine for one routing config. See the module docstring."""

    def __init__(self, config: AlertConfig) -> None:
        self.config = config
        self.alerts: dict[str, AlertState] = {}
        self._member_of: dict[str, set[str]] = {}  # warning id -> keys of its groups
        self.groups: dict[str, GroupState] = {}
        self.silences: dict[str, Silence] = {}
        self._routes: dict[str, Route] = {}
        self._index(config.route)
        self.dirty_alerts: set[str] = set()
        self.dirty_groups: set[str] = set()
        self.dropped_groups: set[str] = set()
        self.dropped_alerts: set[str] = set()

    def _index(self, route: Route) -> None:
        self._routes[route.id] = route
        for child in route.routes:
            self._index(child)

    # -- state in and out (the store) ----------------------------------------------------

    def restore(
        self,
        alerts: Iterable[AlertState],
        groups: Iterable[GroupState],
        silences: Iterable[Silence],
    ) -> None:
        """Load what the store kept; a group whose route left the config is dropped."""
        self.alerts = {a.alert.warning_id: a for a in alerts}
        self.groups = {g.key: g for g in groups if g.route_id in self._routes}
        self._member_of = {}
        for group in self.groups.values():
            for wid in group.alerts:
                self._member_of.setdefault(wid, set()).add(group.key)
        self.silences = {s.id: s for s in silences}

    def take_dirty(self) -> Dirty:
        """What changed since the last call, for the store to write (and forget)."""
        dirty = Dirty(
            alerts=[self.alerts[w] for w in sorted(self.dirty_alerts) if w in self.alerts],
            groups=[self.groups[k] for k in sorted(self.dirty_groups) if k in self.groups],
            dropped_groups=sorted(self.dropped_groups - set(self.groups)),
            dropped_alerts=sorted(self.dropped_alerts - set(self.alerts)),
        )
        self.dirty_alerts.clear()
        self.dirty_groups.clear()
        self.dropped_groups.clear()
        self.dropped_alerts.clear()
        return dirty

    def purge(self, now: datetime, keep_s: float) -> int:
        """Forget alerts resolved more than ``keep_s`` ago and in no group any more.

        Dedup needs them only while Kafka could still redeliver their warning, i.e. for
        minutes; keeping them for days costs little and bounds the state.
        """
        cutoff = now - timedelta(seconds=keep_s)
        old = [
            w
            for w, s in self.alerts.items()
            if s.resolved_at is not None and s.resolved_at < cutoff and not self._member_of.get(w)
        ]
        for wid in old:
            del self.alerts[wid]
            self.dirty_alerts.discard(wid)
            self.dropped_alerts.add(wid)
        return len(old)

    # -- input -----------------------------------------------------------------------------

    def ingest(self, alert: Alert, now: datetime) -> Outcome:
        """One warning (open or resolved). A repeat of what is known changes nothing."""
        out = Outcome()
        state = self.alerts.get(alert.warning_id)
        if alert.status == "open":
            if state is not None:  # a redelivered open, or an open after its resolution
                out.duplicate = True
                return out
            state = AlertState(alert, first_seen=now)
            self.alerts[alert.warning_id] = state
            self.dirty_alerts.add(alert.warning_id)
            for route in route_alert(self.config.route, alert.labels):
                self._join(route, state, now)
            return out
        if state is None:
            # A resolution whose open we never saw (it predates this service): remember it
            # so a late open cannot start an alert for an episode that is over.
            self.alerts[alert.warning_id] = AlertState(
                alert, first_seen=now, resolved_at=now, resolved_by="warning"
            )
            self.dirty_alerts.add(alert.warning_id)
            out.duplicate = True
            return out
        if not state.firing:
            out.duplicate = True
            return out
        state.resolved_at, state.resolved_by = now, "warning"
        self.dirty_alerts.add(alert.warning_id)
        for group in self._groups_of(alert.warning_id):
            event = AlertEvent.of("resolved", state.alert, group.ref, now, actor="warning")
            out.events.append(event)
        return out

    def _join(self, route: Route, state: AlertState, now: datetime) -> None:
        labels = state.alert.labels
        if "..." in route.group_by:
            values = {"warning_id": state.alert.warning_id}
        else:
            values = {name: labels.get(name, "") for name in route.group_by}
        key = "\x1f".join(
            [route.id, route.receiver, *(f"{k}={v}" for k, v in sorted(values.items()))]
        )
        group = self.groups.get(key)
        if group is None:
            group = GroupState(
                key=key,
                route_id=route.id,
                receiver=route.receiver,
                labels=values,
                created_at=now,
                next_flush=now + timedelta(seconds=route.group_wait_s),
            )
            self.groups[key] = group
        group.alerts.append(state.alert.warning_id)
        self._member_of.setdefault(state.alert.warning_id, set()).add(key)
        self.dirty_groups.add(key)

    def _groups_of(self, warning_id: str) -> list[GroupState]:
        return [self.groups[k] for k in sorted(self._member_of.get(warning_id, ()))]

    def _leave(self, warning_id: str, key: str) -> None:
        keys = self._member_of.get(warning_id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._member_of[warning_id]

    def _find(self, ref: str) -> tuple[list[AlertState], list[GroupState]]:
        """A group ref, or a warning id (its groups): the alerts and groups it names."""
        group = next((g for g in self.groups.values() if g.ref == ref), None)
        if group is not None:
            return [self.alerts[w] for w in group.alerts if w in self.alerts], [group]
        state = self.alerts.get(ref)
        if state is None:
            raise UnknownAlert(f"no alert or group {ref!r} (see `loanwatch alerts list`)")
        return [state], self._groups_of(ref)

    def ack(self, ref: str, by: str, now: datetime) -> Outcome:
        """Acknowledge a group (every firing alert in it) or one alert: "I have it"."""
        out = Outcome()
        states, groups = self._find(ref)
        any_group = groups[0].ref if groups else ""
        for state in states:
            if state.firing and state.acked_at is None:
                state.acked_at, state.acked_by = now, by
                self.dirty_alerts.add(state.alert.warning_id)
                out.events.append(AlertEvent.of("acked", state.alert, any_group, now, actor=by))
        for group in self._groups_of_states(states):
            if not self._unacked(group):
                group.esc_next = None
                self.dirty_groups.add(group.key)
        return out

    def resolve(self, ref: str, by: str, now: datetime) -> Outcome:
        """Close alerts by hand (the warning may never resolve, e.g. an event rule)."""
        out = Outcome()
        states, groups = self._find(ref)
        any_group = groups[0].ref if groups else ""
        for state in states:
            if state.firing:
                state.resolved_at, state.resolved_by = now, by
                self.dirty_alerts.add(state.alert.warning_id)
                out.events.append(AlertEvent.of("resolved", state.alert, any_group, now, actor=by))
        for group in self._groups_of_states(states):
            self.dirty_groups.add(group.key)
        return out

    def _groups_of_states(self, states: list[AlertState]) -> list[GroupState]:
        ids = {s.alert.warning_id for s in states}
        keys = {k for wid in ids for k in self._member_of.get(wid, ())}
        return [self.groups[k] for k in sorted(keys)]

    def add_silence(self, silence: Silence) -> None:
        self.silences[silence.id] = silence

    def expire_silence(self, silence_id: str, now: datetime) -> Silence:
        old = self.silences.get(silence_id)
        if old is None:
            raise UnknownAlert(f"no silence {silence_id!r}")
        ended = Silence(
            old.id, old.matchers, old.starts_at, min(old.ends_at, now), old.author, old.comment
        )
        self.silences[silence_id] = ended
        return ended

    # -- time --------------------------------------------------------------------------------

    def next_due(self) -> datetime | None:
        """When `tick` next has something to do (the service sleeps until then at most)."""
        times = [g.next_flush for g in self.groups.values()]
        times += [g.esc_next for g in self.groups.values() if g.esc_next is not None]
        return min(times) if times else None

    def tick(self, now: datetime) -> Outcome:
        """Flush every group that is due, and escalate every ladder that is due."""
        out = Outcome()
        due = [g for g in self.groups.values() if g.next_flush <= now]
        ladders = [g for g in self.groups.values() if g.esc_next is not None and g.esc_next <= now]
        if not due and not ladders:
            return out
        inhibited = self._inhibited(now)
        for group in sorted(due, key=lambda g: (g.next_flush, g.key)):
            self._flush(group, now, inhibited, out)
        for group in sorted(ladders, key=lambda g: g.key):
            if group.key in self.groups and group.esc_next is not None:
                self._escalate(group, now, inhibited, out)
        return out

    def _muted(self, route: Route, now: datetime) -> bool:
        return any(self.config.mute_windows[name].active(now) for name in route.mute_windows)

    def _silenced(self, alert: Alert, now: datetime) -> bool:
        return any(s.mutes(alert.labels, now) for s in self.silences.values())

    def _inhibited(self, now: datetime) -> set[str]:
        """Warning ids muted by a firing, unsilenced source alert with equal labels."""
        if not self.config.inhibit_rules:
            return set()
        firing = [s.alert for s in self.alerts.values() if s.firing]
        muted: set[str] = set()
        for rule in self.config.inhibit_rules:
            sources: dict[tuple[str, ...], set[str]] = {}
            for alert in firing:
                if matches_all(rule.source, alert.labels) and not self._silenced(alert, now):
                    values = tuple(alert.labels.get(n, "") for n in rule.equal)
                    sources.setdefault(values, set()).add(alert.warning_id)
            if not sources:
                continue
            for alert in firing:
                if not matches_all(rule.target, alert.labels):
                    continue
                values = tuple(alert.labels.get(n, "") for n in rule.equal)
                if sources.get(values, set()) - {alert.warning_id}:
                    muted.add(alert.warning_id)
        return muted

    def _visible(
        self, group: GroupState, now: datetime, inhibited: set[str], out: Outcome
    ) -> list[AlertState]:
        """The group's firing alerts that may be notified; records why others are held."""
        shown: list[AlertState] = []
        for wid in group.alerts:
            state = self.alerts.get(wid)
            if state is None or not state.firing:
                continue
            held = (
                "silenced"
                if self._silenced(state.alert, now)
                else ("inhibited" if wid in inhibited else "")
            )
            if held != state.held:
                state.held = held
                self.dirty_alerts.add(wid)
                if held:
                    out.events.append(AlertEvent.of(held, state.alert, group.ref, now))
            if not held:
                shown.append(state)
        return shown

    def _unacked(self, group: GroupState) -> list[AlertState]:
        states = (self.alerts.get(w) for w in group.alerts)
        return [s for s in states if s is not None and s.firing and s.acked_at is None]

    def _flush(self, group: GroupState, now: datetime, inhibited: set[str], out: Outcome) -> None:
        route = self._routes[group.route_id]
        receiver = self.config.receivers[group.receiver]
        self.dirty_groups.add(group.key)
        group.next_flush = now + timedelta(seconds=route.group_interval_s)
        if self._muted(route, now):
            return
        shown = self._visible(group, now, inhibited, out)
        shown_ids = [s.alert.warning_id for s in shown]
        resolved = [
            self.alerts[w] for w in group.notified if w in self.alerts and not self.alerts[w].firing
        ]
        changed = set(shown_ids) != set(group.notified)
        unacked = [s for s in shown if s.acked_at is None]
        repeat_due = (
            bool(unacked)
            and group.last_sent is not None
            and now - group.last_sent >= timedelta(seconds=route.repeat_interval_s)
        )
        worth = bool(shown) or (bool(resolved) and receiver.send_resolved)
        if (changed and worth) or repeat_due:
            kind = "repeat" if not changed else ("firing" if shown else "resolved")
            notice = self._notice(group, group.receiver, kind, shown, resolved, 0, now)
            out.notifications.append(notice)
            group.last_sent = now
            # A ladder starts for alerts it has not run for yet: a plain repeat, or one
            # alert of several resolving, does not climb an exhausted ladder again.
            fresh = [s for s in unacked if s.alert.warning_id not in group.notified]
            if route.escalation and fresh and group.esc_next is None:
                first = self.config.escalations[route.escalation].levels[0]
                group.esc_step = 0
                group.esc_next = now + timedelta(seconds=first.after_s)
        group.notified = shown_ids
        # What resolved has now been told (or was never shown): the group lets it go, so a
        # long-lived group does not grow with every episode it ever saw.
        kept = [w for w in group.alerts if w in self.alerts and self.alerts[w].firing]
        for wid in set(group.alerts) - set(kept):
            self._leave(wid, group.key)
        group.alerts = kept
        self._forget_if_done(group)

    def _escalate(
        self, group: GroupState, now: datetime, inhibited: set[str], out: Outcome
    ) -> None:
        route = self._routes[group.route_id]
        policy = self.config.escalations.get(route.escalation or "")
        self.dirty_groups.add(group.key)
        if policy is None:
            group.esc_next = None
            return
        if self._muted(route, now):
            group.esc_next = now + timedelta(seconds=route.group_interval_s)
            return
        pending = [s for s in self._visible(group, now, inhibited, out) if s.acked_at is None]
        if not pending:
            group.esc_next = None
            return
        levels = policy.levels
        level = levels[group.esc_step % len(levels)]
        notice = self._notice(
            group, level.receiver, "escalation", pending, [], group.esc_step % len(levels) + 1, now
        )
        out.notifications.append(notice)
        for state in pending:
            out.events.append(
                AlertEvent.of(
                    "escalated",
                    state.alert,
                    group.ref,
                    now,
                    receiver=level.receiver,
                    level=notice.level,
                    notification_id=notice.id,
                )
            )
        group.esc_step += 1
        if group.esc_step >= len(levels) * policy.loops:
            group.esc_next = None
        else:
            following = levels[group.esc_step % len(levels)]
            group.esc_next = now + timedelta(seconds=following.after_s)

    def _notice(
        self,
        group: GroupState,
        receiver: str,
        kind: str,
        firing: list[AlertState],
        resolved: list[AlertState],
        level: int,
        now: datetime,
    ) -> Notification:
        group.seq += 1
        return Notification(
            id=f"{group.ref}-{group.seq}",
            receiver=receiver,
            group_ref=group.ref,
            kind=kind,
            firing=tuple(s.alert for s in firing),
            resolved=tuple(s.alert for s in resolved),
            acked=tuple(s.alert.warning_id for s in firing if s.acked_at is not None),
            level=level,
            created_at=now,
            group_labels=dict(group.labels),
        )

    def _forget_if_done(self, group: GroupState) -> None:
        """A group whose alerts all resolved and were notified so ends (alerts stay, for dedup)."""
        if group.notified:
            return
        if any(w in self.alerts and self.alerts[w].firing for w in group.alerts):
            return
        for wid in group.alerts:
            self._leave(wid, group.key)
        del self.groups[group.key]
        self.dirty_groups.discard(group.key)
        self.dropped_groups.add(group.key)
