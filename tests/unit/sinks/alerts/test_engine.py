"""The pure alerting core, driven by an explicit clock: hours of on-call life in microseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sinks.alerts.engine import AlertEngine, AlertState, GroupState, route_alert
from sinks.alerts.exceptions import AlertConfigError, UnknownAlert
from sinks.alerts.matchers import parse_matcher
from sinks.alerts.model import Alert, Silence, alert_from_warning
from sinks.alerts.routing import AlertConfig
from sinks.alerts.routing_file import parse_config

KEY = b"test-key"
T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday, 18:00 in Shanghai


def config(**changes: Any) -> AlertConfig:
    raw: dict[str, Any] = {
        "route": {
            "receiver": "default",
            "group_by": ["team", "rule"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {
                    "matchers": ['team="collections"'],
                    "receiver": "collections",
                    "continue": True,
                    "escalation": "oncall",
                },
                {"matchers": ['severity=~"high|critical"'], "receiver": "leads"},
            ],
        },
        "receivers": [
            {"name": n, "urls": [f"json://127.0.0.1:9/{n}"]}
            for n in ("default", "collections", "leads", "head")
        ],
        "escalation_policies": {
            "oncall": {
                "loops": 2,
                "levels": [
                    {"after": "10m", "receiver": "leads"},
                    {"after": "20m", "receiver": "head"},
                ],
            }
        },
        "mute_windows": {
            "nights": {
                "time_zone": "Asia/Shanghai",
                "intervals": [{"times": [{"start": "22:00", "end": "08:00"}]}],
            }
        },
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity=~"info|low|medium|high"'],
                "equal": ["loan_id"],
            },
            {
                "source_matchers": ['rule=~"written_off|lawsuit_or_enforcement"'],
                "target_matchers": ['team="collections"'],
                "equal": ["loan_id"],
            },
        ],
    }
    raw.update(changes)
    return parse_config(raw)


def warning(n: int, status: str = "open", **changes: Any) -> Alert:
    body: dict[str, Any] = {
        "warning_id": f"w{n}",
        "status": status,
        "loan_id": f"L-{n:06d}",
        "borrower_id": f"bw-{n}",
        "rule_id": "dpd_30",
        "severity": "medium",
        "owner_team": "collections",
        "message": f"L-{n:06d} is 30 days past due, phone 13812345678",
        "reasons": [{"name": "loan.dpd", "value": 30}],
        "dpd": 30,
        "bucket": "M1",
        "klass": "special_mention",
        "event_time": "2026-03-04T16:00:00+00:00",
    }
    body.update(changes)
    return alert_from_warning(body, KEY)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_routing_takes_first_match_and_continue_lets_siblings_match() -> None:
    cfg = config()
    labels = {"team": "collections", "severity": "high"}
    assert [r.receiver for r in route_alert(cfg.route, labels)] == ["collections", "leads"]
    labels = {"team": "fraud", "severity": "low"}
    assert [r.receiver for r in route_alert(cfg.route, labels)] == ["default"]


def test_group_waits_then_sends_one_message_for_many_warnings() -> None:
    engine = AlertEngine(config(route={"receiver": "default", "group_by": ["team"]}))
    for n in range(5):
        engine.ingest(warning(n), at(n))
    assert engine.tick(at(29)).notifications == []
    sent = engine.tick(at(30)).notifications
    assert len(sent) == 1 and len(sent[0].firing) == 5 and sent[0].kind == "firing"


def test_redelivered_warning_changes_nothing() -> None:
    engine = AlertEngine(config(route={"receiver": "default"}))
    engine.ingest(warning(1), at(0))
    assert engine.ingest(warning(1), at(1)).duplicate
    (notice,) = engine.tick(at(30)).notifications
    assert [a.warning_id for a in notice.firing] == ["w1"]
    engine.ingest(warning(1, "resolved"), at(40))
    assert engine.ingest(warning(1, "resolved"), at(41)).duplicate
    assert engine.ingest(warning(1), at(42)).duplicate  # an open after its resolution


def test_new_alert_waits_for_group_interval_and_unchanged_group_repeats() -> None:
    engine = AlertEngine(config(route={"receiver": "default", "group_interval": "5m"}))
    engine.ingest(warning(1), at(0))
    assert len(engine.tick(at(30)).notifications) == 1
    engine.ingest(warning(2), at(60))
    assert engine.tick(at(61)).notifications == []
    (second,) = engine.tick(at(330)).notifications
    assert {a.warning_id for a in second.firing} == {"w1", "w2"}
    assert engine.tick(at(630)).notifications == []  # unchanged, repeat not yet due
    repeats = [n for s in range(630, 4 * 3600 + 700, 300) for n in engine.tick(at(s)).notifications]
    assert [n.kind for n in repeats] == ["repeat"]


def test_resolution_is_notified_once_then_the_group_ends() -> None:
    engine = AlertEngine(config(route={"receiver": "default"}))
    engine.ingest(warning(1), at(0))
    engine.tick(at(30))
    out = engine.ingest(warning(1, "resolved"), at(100))
    assert [e.kind for e in out.events] == ["resolved"]
    (notice,) = engine.tick(at(330)).notifications
    assert notice.kind == "resolved" and [a.warning_id for a in notice.resolved] == ["w1"]
    assert engine.groups == {}


def test_opened_and_resolved_within_group_wait_sends_nothing() -> None:
    engine = AlertEngine(config(route={"receiver": "default"}))
    engine.ingest(warning(1), at(0))
    engine.ingest(warning(1, "resolved"), at(5))
    assert engine.tick(at(30)).notifications == []


def test_silence_holds_matching_alerts_until_it_ends() -> None:
    engine = AlertEngine(config(route={"receiver": "default"}))
    engine.add_silence(
        Silence("s1", (parse_matcher('rule="dpd_30"'),), at(0), at(600), "ops", "known batch")
    )
    engine.ingest(warning(1), at(0))
    out = engine.tick(at(30))
    assert out.notifications == [] and [e.kind for e in out.events] == ["silenced"]
    assert engine.tick(at(330)).notifications == []
    (notice,) = engine.tick(at(630)).notifications
    assert notice.kind == "firing"


def test_mute_window_at_night_in_the_zone_holds_until_morning() -> None:
    engine = AlertEngine(config(route={"receiver": "default", "mute_windows": ["nights"]}))
    night = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    engine.ingest(warning(1), night)
    times = [night + timedelta(minutes=m) for m in range(0, 10 * 60, 5)]
    sent = [(t, n) for t in times for n in engine.tick(t).notifications]
    assert len(sent) == 1
    assert sent[0][0] >= datetime(2026, 3, 5, 0, 0, tzinfo=UTC)  # 08:00 Shanghai


def test_critical_on_a_loan_inhibits_its_lower_warnings_only() -> None:
    engine = AlertEngine(config(route={"receiver": "default", "group_by": ["..."]}))
    engine.ingest(warning(1, severity="medium", loan_id="L-9"), at(0))
    engine.ingest(warning(2, severity="critical", rule_id="dpd_90", loan_id="L-9"), at(0))
    engine.ingest(warning(3, severity="medium", loan_id="L-8"), at(0))
    out = engine.tick(at(30))
    assert sorted(a.warning_id for n in out.notifications for a in n.firing) == ["w2", "w3"]
    assert [(e.kind, e.warning_id) for e in out.events] == [("inhibited", "w1")]
    engine.ingest(warning(2, "resolved", severity="critical", loan_id="L-9"), at(60))
    later = engine.tick(at(330))
    assert any(a.warning_id == "w1" for n in later.notifications for a in n.firing)


def test_written_off_loan_mutes_collection_warnings() -> None:
    engine = AlertEngine(config(route={"receiver": "default", "group_by": ["..."]}))
    engine.ingest(warning(1, loan_id="L-7"), at(0))
    engine.ingest(warning(2, rule_id="written_off", owner_team="risk-review", loan_id="L-7"), at(0))
    firing = [a.warning_id for n in engine.tick(at(30)).notifications for a in n.firing]
    assert firing == ["w2"]


def test_unacked_group_escalates_level_by_level_and_loops_k_times() -> None:
    engine = AlertEngine(config())
    engine.ingest(warning(1), at(0))
    first = engine.tick(at(30)).notifications
    assert [n.receiver for n in first] == ["collections"]
    ladder = []
    for s in range(60, 4 * 3600, 60):
        ladder += [(s, n.receiver, n.level) for n in engine.tick(at(s)).notifications]
    escalations = [x for x in ladder if x[1] != "collections"]
    # 10 min -> leads, +20 min -> head, +10 -> leads, +20 -> head; then the ladder ends
    assert [(r, lvl) for _, r, lvl in escalations] == [
        ("leads", 1),
        ("head", 2),
        ("leads", 1),
        ("head", 2),
    ]
    assert escalations[0][0] == 30 + 600 + 30  # first tick at or after 10 min past the notice


def test_ack_stops_escalation_and_repeats_and_is_recorded() -> None:
    engine = AlertEngine(config())
    engine.ingest(warning(1), at(0))
    (notice,) = engine.tick(at(30)).notifications
    out = engine.ack(notice.group_ref, "alice", at(100))
    assert [(e.kind, e.actor) for e in out.events] == [("acked", "alice")]
    later = [n for s in range(120, 6 * 3600, 60) for n in engine.tick(at(s)).notifications]
    assert later == []
    assert engine.alerts["w1"].acked_by == "alice"


def test_manual_resolve_sends_resolved_notice() -> None:
    engine = AlertEngine(config(route={"receiver": "default"}))
    engine.ingest(warning(1), at(0))
    engine.tick(at(30))
    out = engine.resolve("w1", "bob", at(60))
    assert [(e.kind, e.actor) for e in out.events] == [("resolved", "bob")]
    (notice,) = engine.tick(at(330)).notifications
    assert notice.kind == "resolved"
    with pytest.raises(UnknownAlert):
        engine.ack("nope", "bob", at(400))


def test_state_round_trips_through_dicts_without_repeating_a_notice() -> None:
    engine = AlertEngine(config())
    engine.ingest(warning(1), at(0))
    engine.tick(at(30))
    dirty = engine.take_dirty()
    fresh = AlertEngine(config())
    fresh.restore(
        [AlertState.from_dict(a.to_dict()) for a in dirty.alerts],
        [GroupState.from_dict(g.to_dict()) for g in dirty.groups],
        [],
    )
    assert fresh.tick(at(330)).notifications == []
    assert fresh.ingest(warning(1), at(331)).duplicate


def test_alert_masks_loan_borrower_and_long_digits() -> None:
    alert = warning(123)
    assert alert.loan_ref == "L-**0123"
    assert "bw-123" not in alert.borrower_ref
    assert "13812345678" not in alert.summary and "L-000123" not in alert.summary


@pytest.mark.parametrize(
    "change",
    [
        {"route": {"receiver": "missing"}},
        {"route": {"receiver": "default", "group_wait": "soon"}},
        {"route": {"receiver": "default", "matchers": ["team~collections"]}},
        {"route": {"receiver": "default", "mute_windows": ["weekends"]}},
        {"route": {"receiver": "default", "group_by": ["colour"]}},
    ],
)
def test_bad_config_names_the_entry(change: dict[str, Any]) -> None:
    with pytest.raises(AlertConfigError, match="route"):
        config(**change)


def test_purge_forgets_only_long_resolved_alerts() -> None:
    engine = AlertEngine(config(route={"receiver": "default"}))
    engine.ingest(warning(1), at(0))
    engine.ingest(warning(2), at(0))
    engine.tick(at(30))
    engine.ingest(warning(1, "resolved"), at(60))
    engine.tick(at(330))  # w1's resolution notified; w2 keeps the group open
    (group,) = engine.groups.values()
    assert group.alerts == ["w2"]
    assert engine.purge(at(400), keep_s=600) == 0  # too recent
    assert engine.purge(at(1000), keep_s=600) == 1
    assert engine.take_dirty().dropped_alerts == ["w1"]
    assert "w2" in engine.alerts  # still firing


def test_an_exhausted_ladder_is_not_climbed_again_by_repeats() -> None:
    engine = AlertEngine(config(route={"receiver": "default", "repeat_interval": "1h", "routes": [
        {"matchers": ['team="collections"'], "receiver": "collections", "escalation": "oncall"}
    ]}))  # fmt: skip
    engine.ingest(warning(1), at(0))
    sent = [n for s in range(0, 6 * 3600, 60) for n in engine.tick(at(s)).notifications]
    assert [n.kind for n in sent].count("escalation") == 4  # 2 levels x 2 loops, once
    assert [n.kind for n in sent].count("repeat") >= 4
    engine.ingest(warning(2), at(6 * 3600))  # something new: a new ladder
    later = [n for s in range(6 * 3600, 8 * 3600, 60) for n in engine.tick(at(s)).notifications]
    assert any(n.kind == "escalation" for n in later)
