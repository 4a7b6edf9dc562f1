"""Acks, resolutions and silences by HTTP and by the `loanwatch alerts` CLI, on a live service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
import requests
from test_alerts_service import HttpReceiver, Running, routing, wait_for, warning
from test_clickhouse_writer import free_port
from test_redis_sink import produce

from config import Settings
from sinks.alerts.access import Access
from sinks.alerts.http import make_app, serve_in_thread
from sinks.alerts.routing_file import parse_config
from sinks.alerts.service import AlertService


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    got = HttpReceiver()
    yield got
    got.close()


@pytest.fixture
def service(
    settings: Settings, topic: str, redis_prefix: str, receiver: HttpReceiver
) -> Iterator[tuple[AlertService, str]]:
    svc = AlertService(
        settings,
        parse_config({**routing(receiver, repeat_interval="1s"), "ack_url": "http://x"}),
        topics=[topic],
        group_id=f"test-alerts-{uuid.uuid4().hex}",
        prefix=redis_prefix,
        max_wait_s=0.1,
        history=None,
    )
    port = free_port()
    stop_http = serve_in_thread(make_app(svc.store, Access.with_token(TOKEN)), "127.0.0.1", port)
    running = Running(svc)
    yield svc, f"http://127.0.0.1:{port}"
    running.stop()
    stop_http()


def cli(redis_prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    return loanwatch(redis_prefix, "alerts", *args)


def loanwatch(redis_prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`loanwatch ARGS` with only our Redis prefix set, from the checkout's folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOANWATCH_")}
    env["LOANWATCH_REDIS__KEY_PREFIX"] = redis_prefix
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )


TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def first_group(base: str) -> dict[str, Any]:
    groups = requests.get(f"{base}/alerts", headers=AUTH, timeout=10).json()["groups"]
    assert groups, "no open group"
    return dict(groups[0])


def test_http_ack_records_who_and_stops_the_repeats(
    settings: Settings, topic: str, receiver: HttpReceiver, service: tuple[AlertService, str]
) -> None:
    _, base = service
    produce(settings, topic, [warning(1)])
    wait_for("the first message", lambda: len(receiver.to("/team")) >= 1)
    ref = first_group(base)["ref"]
    assert "http://x/ack/" + ref in receiver.to("/team")[0]["message"]
    form = requests.get(f"{base}/ack/{ref}", timeout=10)
    assert form.status_code == 200 and 'name="by"' in form.text and 'name="token"' in form.text
    refused = requests.post(f"{base}/ack/{ref}", json={"by": "carol"}, timeout=10)
    assert refused.status_code == 401
    done = requests.post(f"{base}/ack/{ref}", json={"by": "carol"}, headers=AUTH, timeout=15)
    assert done.status_code == 200, done.text
    silence = requests.post(
        f"{base}/silences",
        json={"by": "carol", "matchers": ['rule="dpd_1"'], "duration": "30m", "comment": "x"},
        headers=AUTH,
        timeout=15,
    )
    assert silence.status_code == 200 and silence.json()["id"].startswith("s-"), silence.text
    view = requests.get(f"{base}/alerts", headers=AUTH, timeout=10).json()
    assert [(s["author"], s["matchers"]) for s in view["silences"]] == [("carol", ['rule="dpd_1"'])]
    (alert,) = first_group(base)["alerts"]
    assert alert["state"] == "acked" and alert["acked_by"] == "carol" and alert["acked_at"]
    count = len(receiver.to("/team"))
    time.sleep(2.5)  # two repeat intervals and more: nothing, it is acked
    assert len(receiver.to("/team")) == count


def test_cli_ack_resolve_silence_and_list(
    settings: Settings, topic: str, receiver: HttpReceiver, service: tuple[AlertService, str],
    redis_prefix: str,
) -> None:  # fmt: skip
    _, base = service
    produce(settings, topic, [warning(1), warning(2, rule_id="dpd_60")])
    wait_for("two messages", lambda: len(receiver.to("/team")) >= 2)
    acked = cli(redis_prefix, "ack", "w00001", "--by", "dave")
    assert acked.returncode == 0 and "acknowledged w00001 as dave" in acked.stdout, acked
    unknown = cli(redis_prefix, "ack", "nope", "--by", "dave")
    assert unknown.returncode == 1 and "no alert or group" in unknown.stdout
    silenced = cli(
        redis_prefix, "silence", "--match", 'rule="dpd_99"', "--for", "1h", "--comment", "test"
    )
    assert silenced.returncode == 0 and "silence s-" in silenced.stdout, silenced
    resolved = cli(redis_prefix, "resolve", "w00002", "--by", "erin")
    assert resolved.returncode == 0, resolved
    wait_for(
        "the resolved notice",
        lambda: any("1 resolved" in p["title"] for p in receiver.to("/team")),
    )
    listed = cli(redis_prefix, "list", "--json")
    view = orjson.loads(listed.stdout)
    states = {
        a["warning_id"]: (a["state"], a["acked_by"]) for g in view["groups"] for a in g["alerts"]
    }
    assert states["w00001"] == ("acked", "dave")
    assert "w00002" not in states  # resolved and notified: its group is closed
    assert [s["matchers"] for s in view["silences"]] == [['rule="dpd_99"']]


def test_no_running_service_leaves_the_request_queued(
    stack: object, settings: Settings, redis_client: redis.Redis, redis_prefix: str
) -> None:
    from sinks.alerts.commands import submit
    from sinks.alerts.store import AlertStore

    store = AlertStore(redis_client, redis_prefix + "alerts:")
    assert submit(store, "ack", "frank", wait_s=0.5, ref="w1") == {"ok": None, "queued": True}
    assert [c["by"] for c in store.pending_commands()] == ["frank"]


def test_alerts_run_command_serves_until_sigterm(
    settings: Settings, topic: str, receiver: HttpReceiver, redis_prefix: str, unique: str,
    clickhouse: Any, tmp_path: Path,
) -> None:  # fmt: skip
    """The real `loanwatch alerts run` process: settings, migration, endpoint, signals."""
    database = clickhouse.execute("SELECT currentDatabase()")[0][0]
    config = tmp_path / "alerts.yaml"
    config.write_text(orjson.dumps(routing(receiver)).decode())  # JSON is YAML
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOANWATCH_")}
    env.update(
        {
            "LOANWATCH_APP_ID": f"test-{unique}",
            "LOANWATCH_TOPICS__WARNINGS": topic,
            "LOANWATCH_REDIS__KEY_PREFIX": redis_prefix,
            "LOANWATCH_CLICKHOUSE__DATABASE": database,
            "LOANWATCH_ALERTS__CONFIG_FILE": str(config),
            "LOANWATCH_ALERTS__HTTP_PORT": str(port),
            "LOANWATCH_ALERTS__HTTP_TOKEN": TOKEN,
        }
    )
    log = (tmp_path / "alerts.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "alerts", "run"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        produce(settings, topic, [warning(1)])
        wait_for("the message", lambda: len(receiver.to("/team")) >= 1, 30)
        ref = first_group(f"http://127.0.0.1:{port}")["ref"]
        done = requests.post(
            f"http://127.0.0.1:{port}/ack/{ref}", json={"by": "gina"}, headers=AUTH, timeout=15
        )
        assert done.status_code == 200, done.text
        query = f"SELECT kind, actor FROM {database}.alert_events FINAL"  # noqa: S608
        wait_for("acked in ClickHouse", lambda: ("acked", "gina") in clickhouse.execute(query))
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        log.close()
    assert code == 0, (tmp_path / "alerts.log").read_text(errors="replace")[-3000:]
