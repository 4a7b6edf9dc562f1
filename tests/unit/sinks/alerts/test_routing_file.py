"""The routing file read like every configuration file: all its problems at once, each at
its line, and every file that loaded before loading to the same values."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Any

import pytest

from sinks.alerts.exceptions import AlertConfigError
from sinks.alerts.matchers import Matcher
from sinks.alerts.routing import (
    AlertConfig,
    EscalationLevel,
    EscalationPolicy,
    InhibitRule,
    MuteWindow,
    Receiver,
    Route,
    TimeRange,
)
from sinks.alerts.routing_file import load_config, parse_config

DOCS = Path(__file__).resolve().parents[4] / "docs" / "alerting.md"


def problems(path: Path, text: str) -> list[str]:
    """The problems `load_config` reports for ``text``, one per item."""
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AlertConfigError) as caught:
        load_config(path)
    return str(caught.value).split("; ")


def test_every_mistake_in_a_file_is_reported_at_once_each_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LW_UNSET_TOKEN", raising=False)
    path = tmp_path / "alerts.yaml"
    text = """\
route:
  receiver: ops
  group_wait: soon
  routes:
    - matchers: [team~collections]
    - receiver: ops
      repeat_interval: 400d
receivers:
  - name: ops
    urls: ["json://127.0.0.1:9/x?token=${LW_UNSET_TOKEN}"]
    language: fr
    rate_limit: {count: 0}
mute_windows:
  nights:
    time_zone: Mars/Olympus
    intervals: [{weekdays: [funday], times: [{start: "25:00", end: "08:00"}]}]
"""
    assert problems(path, text) == [
        f"{path}:3: route.group_wait: expected a duration with its unit (ms, s, m, h, d) "
        "like 30s or 2h, got 'soon'",
        f'{path}:5: route.routes.0.matchers.0: expected name="value" (or !=, =~, !~), '
        "got 'team~collections'",
        f"{path}:7: route.routes.1.repeat_interval: at most 366d, got '400d'",
        f"{path}:10: receivers.0.urls.0: environment variable LW_UNSET_TOKEN is not set",
        f"{path}:11: receivers.0.language: expected en or zh-CN, got 'fr'",
        f"{path}:12: receivers.0.rate_limit.count: expected a whole number from 1 to 1000000, "
        "got 0",
        f"{path}:15: mute_windows.nights.time_zone: unknown time zone 'Mars/Olympus'",
        f"{path}:16: mute_windows.nights.intervals.0.weekdays: unknown weekday 'funday'",
        f"{path}:16: mute_windows.nights.intervals.0.times.0.start: expected HH:MM, got '25:00'",
    ]


def test_names_that_refer_to_nothing_are_reported_together_each_at_its_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alerts.yaml"
    text = """\
route:
  receiver: opz
  routes:
    - receiver: collections
      mute_windows: [night]
      escalation: oncall
    - group_by: [team, colour]
receivers:
  - name: ops
    urls: ["json://127.0.0.1:9/x"]
  - name: ops
    urls: ["json://127.0.0.1:9/y"]
escalation_policies:
  lead-first:
    levels: [{after: 5m, receiver: lead}]
"""
    assert problems(path, text) == [
        f"{path}:2: route.receiver: unknown receiver 'opz'",
        f"{path}:4: route.routes.0.receiver: unknown receiver 'collections'",
        f"{path}:5: route.routes.0.mute_windows.0: unknown mute window 'night'",
        f"{path}:6: route.routes.0.escalation: unknown escalation 'oncall'",
        f"{path}:7: route.routes.1.group_by.1: unknown label 'colour'",
        f"{path}:11: receivers.1.name: duplicate name 'ops'",
        f"{path}:15: escalation_policies.lead-first.levels.0.receiver: unknown receiver 'lead'",
    ]


def test_an_unknown_key_in_a_route_is_named_at_its_line_as_in_a_policy(tmp_path: Path) -> None:
    # The same words as a policy's or a workflow's unknown key (rules.yaml_config).
    path = tmp_path / "alerts.yaml"
    text = """\
route:
  receiver: ops
  routes:
    - recever: fraud
receivers: [{name: ops, urls: "json://127.0.0.1:9/x"}]
"""
    assert problems(path, text) == [f"{path}:4: route.routes.0.recever: unknown key"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "expected a mapping of routing keys at the top level"),
        ("- route\n", "expected a mapping of routing keys at the top level"),
        ("receivers: []\n", "route: required key is missing"),
    ],
)
def test_a_document_without_a_routing_tree_is_refused_naming_the_file(
    tmp_path: Path, text: str, problem: str
) -> None:
    (found,) = problems(tmp_path / "alerts.yaml", text)
    assert found.startswith(f"{tmp_path / 'alerts.yaml'}: {problem}")


def test_a_mapping_built_in_code_is_refused_with_every_problem_and_no_line() -> None:
    raw = {
        "route": {"receiver": "nobody", "group_by": ["colour"]},
        "receivers": [{"name": "ops", "urls": "json://127.0.0.1:9/x"}],
    }
    with pytest.raises(AlertConfigError) as caught:
        parse_config(raw, "routing under test")
    assert str(caught.value) == (
        "routing under test: route.receiver: unknown receiver 'nobody'; "
        "routing under test: route.group_by.0: unknown label 'colour'"
    )


def test_the_spellings_that_always_loaded_still_load(tmp_path: Path) -> None:
    # One string for a list, a number for a name, null for nothing, digits in a string
    # for a count, Alertmanager's `match` and `mute_time_intervals`, `escalation: null`
    # to stop an inherited one, `equal: null` for no labels at all.
    path = tmp_path / "alerts.yaml"
    path.write_text(
        """\
route:
  receiver: 5
  group_by: team
  escalation: esc
  routes:
    - match: {team: fraud}
      mute_time_intervals: night
      escalation: null
      continue: 1
receivers:
  - name: 5
    urls: json://127.0.0.1:9/x
    rate_limit: {count: "7", per: 30}
    max_batch: null
escalation_policies:
  esc: {levels: [{after: 90, receiver: 5}], loops: null}
mute_windows:
  night: {intervals: [~]}
inhibit_rules: [~, {equal: null}]
""",
        encoding="utf-8",
    )
    cfg = load_config(path)

    (child,) = cfg.route.routes
    assert (cfg.route.receiver, cfg.route.group_by, cfg.route.escalation) == ("5", ("team",), "esc")
    assert child.matchers == (Matcher("team", "=", "fraud"),)
    assert (child.mute_windows, child.escalation, child.continue_) == (("night",), None, True)
    assert cfg.receivers["5"] == Receiver(
        "5", ("json://127.0.0.1:9/x",), rate_limit=7, rate_period_s=30.0, max_batch=20
    )
    assert cfg.escalations["esc"] == EscalationPolicy("esc", (EscalationLevel(90.0, "5"),), 1)
    assert cfg.mute_windows["night"].intervals == ((frozenset(), ()),)
    assert cfg.inhibit_rules == (InhibitRule((), ()), InhibitRule((), (), ()))


def route(id: str, receiver: str, *matchers: Matcher, **changes: Any) -> Route:
    """A route of the documented file: its root's grouping and timings unless ``changes``."""
    inherited: dict[str, Any] = {
        "group_by": ("team", "rule"),
        "group_wait_s": 30.0,
        "group_interval_s": 300.0,
        "repeat_interval_s": 14400.0,
    }
    return Route(id=id, matchers=matchers, receiver=receiver, **{**inherited, **changes})


SMTP = "mailto://smtp.internal:587?user=alerts&pass=<SMTP_PASS>&from=alerts@bank.example"
DOCUMENTED = AlertConfig(
    route=route(
        "route",
        "risk-ops-mail",
        routes=(
            route(
                "route.routes[0]",
                "collections-dingtalk",
                Matcher("team", "=", "collections"),
                continue_=True,
                mute_windows=("nights",),
                escalation="collections-oncall",
            ),
            route(
                "route.routes[1]",
                "risk-wecom",
                Matcher("severity", "=~", "high|critical"),
                Matcher("team", "!=", "collections"),
                group_wait_s=10.0,
                routes=(
                    route(
                        "route.routes[1].routes[0]",
                        "fraud-feishu",
                        Matcher("rule", "=~", "fund_diversion|rapid_large_outflow"),
                        group_wait_s=10.0,
                    ),
                ),
            ),
            route("route.routes[2]", "south-slack", Matcher("region", "=", "south")),
            route(
                "route.routes[3]",
                "fraud-feishu",
                Matcher("team", "=", "fraud"),
                group_by=("loan_id",),
            ),
        ),
    ),
    receivers={
        "collections-dingtalk": Receiver(
            "collections-dingtalk",
            dingtalk=(
                {
                    "token": "<DINGTALK_COLLECTIONS_TOKEN>",
                    "secret": "<DINGTALK_COLLECTIONS_SECRET>",
                    "at_mobiles": ["13800000000"],
                },
            ),
            language="zh-CN",
        ),
        "collections-lead": Receiver(
            "collections-lead", ("wecombot://<WECOM_COLLECTIONS_LEAD_KEY>",), language="zh-CN"
        ),
        "collections-head": Receiver(
            "collections-head", (f"{SMTP}&to=head-collections@bank.example",)
        ),
        "risk-wecom": Receiver("risk-wecom", ("wecombot://<WECOM_RISK_KEY>",), language="zh-CN"),
        "fraud-feishu": Receiver(
            "fraud-feishu", ("feishu://<FEISHU_FRAUD_TOKEN>",), language="zh-CN"
        ),
        "south-slack": Receiver(
            "south-slack",
            ("slack://<SLACK_TOKEN_A>/<SLACK_TOKEN_B>/<SLACK_TOKEN_C>/#risk-south",),
        ),
        "risk-ops-mail": Receiver(
            "risk-ops-mail",
            (
                "jsons://case-mgmt.internal/hooks/loanwatch",
                f"{SMTP}&to=risk-ops@bank.example",
            ),
        ),
    },
    escalations={
        "collections-oncall": EscalationPolicy(
            "collections-oncall",
            (
                EscalationLevel(900.0, "collections-lead"),
                EscalationLevel(1800.0, "collections-head"),
            ),
            loops=2,
        )
    },
    mute_windows={
        "nights": MuteWindow(
            "nights",
            "Asia/Shanghai",
            ((frozenset(), (TimeRange(time(22), time(8)),)), (frozenset({5, 6}), ())),
        )
    },
    inhibit_rules=(
        InhibitRule(
            (Matcher("severity", "=", "critical"),), (Matcher("severity", "!=", "critical"),)
        ),
        InhibitRule(
            (Matcher("rule", "=~", "written_off|lawsuit_or_enforcement"),),
            (Matcher("team", "=", "collections"),),
        ),
        InhibitRule((Matcher("klass", "=", "loss"),), (Matcher("team", "=", "collections"),)),
    ),
    ack_url="https://loanwatch-alerts.internal",
)
"""What the documented file meant to the hand-made checks this reader replaced (their
output, written out), with each ``${VAR}`` set to ``<VAR>``."""


def documented(monkeypatch: pytest.MonkeyPatch) -> str:
    """The routing file of docs/alerting.md, with each ``${VAR}`` set to ``<VAR>``."""
    block = DOCS.read_text(encoding="utf-8").split("```yaml\n", 1)[1].split("```", 1)[0]
    for name in set(re.findall(r"\$\{([A-Z0-9_]+)\}", block)):
        monkeypatch.setenv(name, f"<{name}>")
    return block


def test_the_documented_routing_file_loads_to_the_values_it_always_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(documented(monkeypatch), encoding="utf-8")

    assert load_config(path) == DOCUMENTED


def test_the_documented_refusal_is_what_the_documented_typos_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = documented(monkeypatch)
    text = text.replace("receiver: risk-wecom\n", "receiver: risk-wecomm\n", 1)
    text = text.replace("receiver: collections-lead}", "receiver: collections-leed}", 1)

    refusal = "; ".join(problems(tmp_path / "alerts.yaml", text))

    shown = refusal.replace(str(tmp_path / "alerts.yaml"), "alerts.yaml")
    assert f"```\n{shown}\n```" in DOCS.read_text(encoding="utf-8")
