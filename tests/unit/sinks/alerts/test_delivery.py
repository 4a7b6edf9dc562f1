"""Messages, channels and the routing file's finer points, without any service."""

from __future__ import annotations

import re
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from test_engine import warning

from sinks.alerts.channels import AppriseChannel, DingTalkChannel, RateWindow, dingtalk_sign
from sinks.alerts.commands import silence_command
from sinks.alerts.exceptions import AlertConfigError, DeliveryError
from sinks.alerts.history import COLUMNS, row_of
from sinks.alerts.matchers import parse_matcher
from sinks.alerts.model import AlertEvent, Notification, Silence
from sinks.alerts.render import MAX_LINES, render
from sinks.alerts.routing_file import parse_config
from sinks.alerts.store import AlertKeys
from sinks.clickhouse.tables import ALERT_EVENTS

DOCS = Path(__file__).resolve().parents[4] / "docs" / "alerting.md"
T = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def notice(kind: str = "firing", n: int = 2, **changes: Any) -> Notification:
    fields: dict[str, Any] = {
        "id": "3f9c0a1b2c4d-1",
        "receiver": "team",
        "group_ref": "3f9c0a1b2c4d",
        "kind": kind,
        "firing": tuple(warning(i) for i in range(n)),
        "resolved": (),
        "acked": (),
        "level": 0,
        "created_at": T,
        "group_labels": {"team": "collections", "rule": "dpd_30"},
    }
    fields.update(changes)
    return Notification(**fields)


def test_english_message_shows_facts_masked_refs_and_how_to_ack() -> None:
    message = render([notice()], "en", ack_url="https://alerts.example")
    assert message.title == "[FIRING] 2 firing, 0 resolved"
    assert "DPD 30 · M1 · special_mention" in message.body
    assert "loan.dpd=30" in message.body
    assert "loanwatch alerts ack 3f9c0a1b2c4d" in message.body
    assert "https://alerts.example/ack/3f9c0a1b2c4d" in message.body
    assert "L-000001" not in message.body and "bw-1" not in message.body
    assert not re.search(r"\d{11}", message.body)  # the phone in the rule's message


def test_chinese_message_uses_chinese_labels_and_class_names() -> None:
    message = render([notice("escalation", level=2)], "zh-CN")
    assert message.title.startswith("[升级]")
    assert "升级第 2 级" in message.body and "关注" in message.body and "逾期 30 天" in message.body


def test_batched_message_counts_everything_but_lists_at_most_the_cap() -> None:
    batch = [notice(n=20, id=f"x-{i}") for i in range(3)]
    message = render(batch, "en")
    assert message.title == "[FIRING] 60 firing, 0 resolved"
    assert message.body.count("· id w") == MAX_LINES
    assert f"... and {60 - MAX_LINES} more" in message.body


def test_dingtalk_request_is_signed_markdown_with_mentions_in_text() -> None:
    robot = DingTalkChannel("tok", secret="SECx", at_mobiles=["13800000000"], url="http://h/")
    url, body = robot.request(render([notice()], "zh-CN"), 1700000000000)
    sign = dingtalk_sign("SECx", 1700000000000)
    assert url.startswith("http://h/robot/send?access_token=tok&timestamp=1700000000000&sign=")
    assert url.endswith(urllib.parse.quote(sign, safe=""))
    assert body["msgtype"] == "markdown" and body["at"]["atMobiles"] == ["13800000000"]
    assert body["markdown"]["text"].rstrip().endswith("@13800000000")


def test_dingtalk_without_secret_sends_no_signature() -> None:
    url, _ = DingTalkChannel("tok").request(render([notice()]), 1)
    assert url == "https://oapi.dingtalk.com/robot/send?access_token=tok"


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:8080/hook",
        "jsons://hooks.example.com/loanwatch",
        "slack://T000/B000/XXXXXXXX/#risk",
        "wecombot://0123456789abcdef",
        "feishu://0123456789abcdef",
        "lark://0123456789abcdef",
        "mailto://smtp.example.com:587?user=a&pass=b&from=alerts@example.com&to=oncall@example.com",
    ],
)
def test_apprise_takes_every_documented_channel_and_logs_no_token(url: str) -> None:
    channel = AppriseChannel(url)
    assert "0123456789abcdef" not in channel.name and "XXXXXXXX" not in channel.name


def test_apprise_refuses_an_unknown_scheme() -> None:
    with pytest.raises(DeliveryError):
        AppriseChannel("nosuch://x")


def test_rate_window_slides() -> None:
    window = RateWindow(3, 60.0)
    for t in (0.0, 10.0, 20.0):
        window.record(t)
    assert not window.allows(30.0) and window.free(30.0) == 0
    assert window.wait(30.0) == 30.0
    assert window.allows(60.0) and window.free(60.0) == 1


def test_mute_window_weekday_ranges_and_midnight_spill() -> None:
    cfg = parse_config(
        {
            "route": {"receiver": "r"},
            "receivers": [{"name": "r", "urls": ["json://127.0.0.1/x"]}],
            "mute_windows": {
                "w": {
                    "time_zone": "Asia/Shanghai",
                    "intervals": [
                        {"weekdays": ["fri"], "times": [{"start": "22:00", "end": "06:00"}]},
                        {"weekdays": ["sun-mon"]},
                    ],
                }
            },
        }
    )
    window = cfg.mute_windows["w"]

    def shanghai(day: int, hour: int) -> datetime:  # 2026-03-06 is a Friday
        return datetime(2026, 3, day, hour, tzinfo=ZoneInfo("Asia/Shanghai"))

    assert window.active(shanghai(6, 23))  # Friday night
    assert window.active(shanghai(7, 5))  # spills into Saturday morning
    assert not window.active(shanghai(7, 7))  # Saturday day
    assert window.active(shanghai(8, 12)) and window.active(shanghai(9, 12))  # Sun, Mon
    assert not window.active(shanghai(10, 12))  # Tuesday


def test_matchers_follow_alertmanager_syntax() -> None:
    assert str(parse_matcher('team = "collections"')) == 'team="collections"'
    assert parse_matcher("rule=~dpd_(30|60)").matches({"rule": "dpd_60"})
    assert not parse_matcher('rule!~"dpd_.*"').matches({"rule": "dpd_1"})
    with pytest.raises(AlertConfigError, match="regular expression"):
        parse_matcher('rule=~"("')


def test_receiver_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = {
        "route": {"receiver": "r"},
        "receivers": [{"name": "r", "dingtalk": {"token": "${LW_TEST_TOKEN}", "secret": "SEC"}}],
    }
    with pytest.raises(AlertConfigError, match="LW_TEST_TOKEN"):
        parse_config(raw)
    monkeypatch.setenv("LW_TEST_TOKEN", "abc")
    assert parse_config(raw).receivers["r"].dingtalk[0]["token"] == "abc"


def test_the_documented_routing_file_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    text = DOCS.read_text(encoding="utf-8")
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    for name in set(re.findall(r"\$\{([A-Z0-9_]+)\}", block)):
        monkeypatch.setenv(name, "token0123")
    cfg = parse_config(yaml.safe_load(block))
    assert {"collections-dingtalk", "risk-wecom", "fraud-feishu"} <= set(cfg.receivers)
    assert cfg.escalations["collections-oncall"].loops == 2
    for receiver in cfg.receivers.values():
        for url in receiver.urls:
            AppriseChannel(url)  # every documented URL is one apprise understands


def test_values_survive_their_json_round_trip() -> None:
    n = notice("resolved", resolved=(warning(9),), acked=("w1",))
    assert Notification.from_json(n.to_json()) == n
    s = Silence("s1", (parse_matcher('team="x"'),), T, T, "alice", "why")
    assert Silence.from_dict(s.to_dict()) == s
    e = AlertEvent.of("acked", warning(1), "g", T, actor="alice")
    assert AlertEvent.from_json(e.to_json()) == e


def test_history_rows_fit_the_alert_events_table() -> None:
    e = AlertEvent.of("sent", warning(1), "g", T, receiver="team", level=300)
    row = row_of(e)
    assert COLUMNS == tuple(c.name for c in ALERT_EVENTS.columns)
    assert len(row) == len(COLUMNS) and row[COLUMNS.index("level")] == 255


def test_silence_command_checks_matchers_before_queueing() -> None:
    fields = silence_command(['team="collections"'], 3600, "holiday", starts_at=T)
    assert fields["ends_at"] == "2026-03-04T11:00:00+00:00"
    with pytest.raises(AlertConfigError):
        silence_command(["team~collections"], 60, "")


def test_keys_live_under_the_prefix() -> None:
    keys = AlertKeys("lw:alerts:")
    names = [keys.alerts, keys.groups, keys.outbox("r"), keys.sent, keys.leader, keys.reply("x")]
    assert all(n.startswith("lw:alerts:") for n in names)
