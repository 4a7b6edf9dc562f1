"""The alert service against real Kafka, Redis and ClickHouse, with real receivers on loopback.

A local aiohttp server plays the JSON webhook and the DingTalk robot API, an aiosmtpd
server takes the e-mail; both keep everything they were sent. Each test has its own
topic, consumer group and Redis prefix, and windows of about a second.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import pytest
import redis
from aiohttp import web
from aiosmtpd.controller import Controller
from clickhouse_driver import Client
from confluent_kafka import Producer
from test_clickhouse_writer import free_port
from test_redis_sink import produce
from test_redis_sink import warning as redis_warning

from config import Settings
from sinks.alerts.channels import dingtalk_sign
from sinks.alerts.routing import AlertConfig
from sinks.alerts.routing_file import parse_config
from sinks.alerts.service import AlertService
from sinks.alerts.store import AlertStore
from sinks.clickhouse import apply_migrations
from sinks.clickhouse.dialect import ServerFeatures
from sinks.metrics import CountingMetrics


class HttpReceiver:
    """Records every POST; ``fail`` makes it answer 500 (a receiver that is down)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.fail = False
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def handle(request: web.Request) -> web.Response:
            if self.fail:
                return web.Response(status=500)
            body = await request.json()
            self.posts.append((request.path, dict(request.query), body))
            if request.path == "/robot/send":
                return web.json_response({"errcode": 0, "errmsg": "ok"})
            return web.Response(text="ok")

        async def start() -> None:
            app = web.Application()
            app.router.add_post("/{tail:.*}", handle)
            self.runner = web.AppRunner(app)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            self.port = self.runner.addresses[0][1]
            ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def to(self, path: str) -> list[dict[str, Any]]:
        return [body for p, _, body in self.posts if p == path]

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class Mailbox:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.mails.append(message_from_bytes(envelope.content))
        return "250 OK"

    def __init__(self) -> None:
        self.mails: list[Any] = []


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def routing(http: HttpReceiver, **route: Any) -> dict[str, Any]:
    hook = f"json://127.0.0.1:{http.port}"
    return {
        "route": {
            "receiver": "team",
            "group_by": ["team", "rule"],
            "group_wait": "0.5s",
            "group_interval": "1s",
            "repeat_interval": "1h",
            **route,
        },
        "receivers": [
            {"name": "team", "urls": [f"{hook}/team"]},
            {"name": "lead", "urls": [f"{hook}/lead"]},
            {
                "name": "head",
                "language": "zh-CN",
                "dingtalk": [
                    {
                        "token": "tok123",
                        "secret": "SECtest",
                        "at_mobiles": ["13800000000"],
                        "url": f"http://127.0.0.1:{http.port}",
                    }
                ],
            },
        ],
        "escalation_policies": {
            "oncall": {
                "loops": 1,
                "levels": [
                    {"after": "2s", "receiver": "lead"},
                    {"after": "2s", "receiver": "head"},
                ],
            }
        },
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity!="critical"'],
                "equal": ["loan_id"],
            }
        ],
    }


def warning(n: int, status: str = "open", **changes: Any) -> dict[str, Any]:
    """A docs/warnings.md warning on its own loan, with an id the messages show."""
    fields: dict[str, Any] = {
        "warning_id": f"w{n:05d}",
        "loan_id": f"L-{n:06d}",
        "borrower_id": f"bw-{n}",
        "severity": "medium",
        "message": f"L-{n:06d} is 30 days past due",
        "event_time": "2026-03-04T16:00:00+00:00",
    }
    return redis_warning(n, status, **{**fields, **changes})


class Running:
    """An `AlertService` looping in a thread until `stop`."""

    def __init__(self, service: AlertService) -> None:
        self.service = service
        self.thread = threading.Thread(target=service.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.service.stop_event.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


@pytest.fixture
def start(
    settings: Settings, topic: str, redis_prefix: str, unique: str
) -> Iterator[Callable[..., Running]]:
    running: list[Running] = []

    def make(
        config: AlertConfig, *, group: str = "g", clock: Any = None, history: Any = None
    ) -> Running:
        kwargs = {"clock": clock} if clock else {}
        service = AlertService(
            settings,
            config,
            topics=[topic],
            group_id=f"test-alerts-{unique}-{group}",
            prefix=redis_prefix,
            max_wait_s=0.1,
            history=history,
            **kwargs,
        )
        running.append(Running(service))
        return running[-1]

    yield make
    for r in running:
        if r.thread.is_alive():
            r.stop()


def wait_for(what: str, condition: Callable[[], bool], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def ids_in(body: dict[str, Any]) -> list[str]:
    return sorted(set(word for word in body["message"].split() if word.startswith("w0")))


def command(
    client: redis.Redis, prefix: str, op: str, timeout_s: float = 10, **fields: Any
) -> dict[str, Any]:
    """Queue a command the way the CLI does, and wait for the service's answer."""
    store = AlertStore(client, prefix + "alerts:")
    reply = uuid.uuid4().hex
    store.enqueue({"op": op, "by": "alice", "id_reply": reply, **fields})
    answer = store.wait_reply(reply, timeout_s)
    assert answer is not None, "the service did not answer"
    return answer


# -- tests ----------------------------------------------------------------------------------


def test_a_burst_becomes_one_message_per_group_by_webhook_and_mail(
    settings: Settings, topic: str, http: HttpReceiver, smtp: tuple[Mailbox, int], start: Any
) -> None:
    box, port = smtp
    raw = routing(http)
    raw["receivers"][0]["urls"].append(
        f"mailto://127.0.0.1:{port}?from=alerts@example.com&to=oncall@example.com&mode=insecure"
    )
    start(parse_config(raw))
    bodies = [warning(n) for n in range(6)] + [warning(10, rule_id="dpd_60", severity="high")]
    produce(settings, topic, bodies)
    wait_for("two webhook messages", lambda: len(http.to("/team")) >= 2)
    wait_for("two mails", lambda: len(box.mails) >= 2)
    time.sleep(1.5)  # a further group interval: nothing more may come
    posts = http.to("/team")
    assert sorted(ids_in(p) for p in posts) == [[f"w{n:05d}" for n in range(6)], ["w00010"]]
    assert len(box.mails) == 2
    text = " ".join(p["message"] for p in posts) + str(box.mails[0].get_payload())
    assert "L-000003" not in text and "bw-3" not in text  # masked
    assert "loanwatch alerts ack" in text


def test_redelivered_warning_is_notified_once(
    settings: Settings, topic: str, http: HttpReceiver, start: Any
) -> None:
    running = start(parse_config(routing(http)))
    producer = Producer(settings.kafka.producer_config())
    producer.produce(topic, value=b"not a warning")  # skipped, never wedges the group
    assert producer.flush(10) == 0
    produce(settings, topic, [warning(1), warning(1)])
    wait_for("a message", lambda: len(http.to("/team")) >= 1)
    assert running.thread.is_alive()
    produce(settings, topic, [warning(1)])
    time.sleep(2.5)
    assert [ids_in(p) for p in http.to("/team")] == [["w00001"]]


def test_unacked_group_repeats_and_ack_stops_it(
    settings: Settings, topic: str, http: HttpReceiver, start: Any, redis_client: redis.Redis,
    redis_prefix: str,
) -> None:  # fmt: skip
    start(parse_config(routing(http, repeat_interval="1s")))
    produce(settings, topic, [warning(1)])
    wait_for("a repeat", lambda: len(http.to("/team")) >= 2, 15)
    assert command(redis_client, redis_prefix, "ack", ref="w00001") == {"ok": True}
    count = len(http.to("/team"))
    time.sleep(2.5)  # two repeat intervals and more: nothing, it is acked
    assert len(http.to("/team")) == count
    assert "STILL FIRING" in http.to("/team")[1]["title"]


def test_resolved_episode_sends_a_resolved_notice(
    settings: Settings, topic: str, http: HttpReceiver, start: Any
) -> None:
    start(parse_config(routing(http)))
    produce(settings, topic, [warning(1), warning(2)])
    wait_for("firing", lambda: len(http.to("/team")) >= 1)
    produce(settings, topic, [warning(1, "resolved")])
    wait_for("resolved", lambda: len(http.to("/team")) >= 2)
    second = http.to("/team")[1]
    assert ids_in(second) == ["w00001", "w00002"] and "1 resolved" in second["title"]


def test_silence_holds_alerts_until_it_is_expired(
    settings: Settings, topic: str, http: HttpReceiver, start: Any, redis_client: redis.Redis,
    redis_prefix: str,
) -> None:  # fmt: skip
    start(parse_config(routing(http)))
    ends = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    answer = command(
        redis_client, redis_prefix, "silence", id="s1", matchers=['rule="dpd_30"'],
        ends_at=ends, comment="known batch job",
    )  # fmt: skip
    assert answer == {"ok": True}
    produce(settings, topic, [warning(1), warning(2, rule_id="dpd_60")])
    wait_for("the unsilenced one", lambda: len(http.to("/team")) >= 1)
    time.sleep(2)
    assert [ids_in(p) for p in http.to("/team")] == [["w00002"]]
    assert command(redis_client, redis_prefix, "expire", id="s1") == {"ok": True}
    wait_for("the silenced one", lambda: len(http.to("/team")) >= 2)
    assert ids_in(http.to("/team")[1]) == ["w00001"]


def test_mute_window_holds_until_it_ends(
    settings: Settings, topic: str, http: HttpReceiver, start: Any
) -> None:
    # The service's clock starts 4 s before 08:00 in Shanghai, inside a 22:00-08:00 window.
    begin = datetime(2026, 3, 4, 23, 59, 56, tzinfo=UTC)
    t0 = time.monotonic()
    raw = routing(http, mute_windows=["nights"])
    raw["mute_windows"] = {
        "nights": {
            "time_zone": "Asia/Shanghai",
            "intervals": [{"times": [{"start": "22:00", "end": "08:00"}]}],
        }
    }
    start(parse_config(raw), clock=lambda: begin + timedelta(seconds=time.monotonic() - t0))
    produce(settings, topic, [warning(1)])
    time.sleep(2.5)
    assert http.to("/team") == []
    wait_for("the morning", lambda: len(http.to("/team")) >= 1, 10)
    assert time.monotonic() - t0 >= 4


def test_critical_on_a_loan_inhibits_its_other_warnings(
    settings: Settings, topic: str, http: HttpReceiver, start: Any
) -> None:
    start(parse_config(routing(http, group_by=["loan_id"])))
    produce(
        settings,
        topic,
        [
            warning(1, loan_id="L-000777"),
            warning(2, loan_id="L-000777", rule_id="dpd_90", severity="critical"),
            warning(3, loan_id="L-000888"),
        ],
    )
    wait_for("two groups", lambda: len(http.to("/team")) >= 2)
    time.sleep(1.5)
    assert sorted(ids_in(p) for p in http.to("/team")) == [["w00002"], ["w00003"]]
    assert "L-000777" not in str(http.posts) and "L-**0777" in str(http.posts)


def test_unacked_alert_escalates_level_by_level_with_signed_dingtalk(
    settings: Settings, topic: str, http: HttpReceiver, start: Any
) -> None:
    start(parse_config(routing(http, escalation="oncall")))
    produce(settings, topic, [warning(1)])
    wait_for("team", lambda: len(http.to("/team")) == 1)
    first = time.monotonic()
    wait_for("level 1", lambda: len(http.to("/lead")) == 1, 10)
    assert time.monotonic() - first >= 1.5
    wait_for("level 2 on DingTalk", lambda: len(http.to("/robot/send")) == 1, 10)
    (_, query, body) = next(p for p in http.posts if p[0] == "/robot/send")
    assert query["access_token"] == "tok123"
    assert query["sign"] == dingtalk_sign("SECtest", int(query["timestamp"]))
    assert body["msgtype"] == "markdown" and body["at"]["atMobiles"] == ["13800000000"]
    assert "@13800000000" in body["markdown"]["text"] and "升级" in body["markdown"]["text"]
    time.sleep(2.5)  # loops: 1 -> the ladder ends
    assert len(http.to("/lead")) == 1 and len(http.to("/robot/send")) == 1


def test_receiver_over_its_rate_limit_gets_a_batched_queue_not_drops(
    settings: Settings, topic: str, http: HttpReceiver, start: Any
) -> None:
    raw = routing(http, group_by=["..."])
    raw["receivers"][0]["rate_limit"] = {"count": 2, "per": "3s"}
    first = start(parse_config(raw))
    produce(settings, topic, [warning(n) for n in range(12)])
    wait_for("two messages", lambda: len(http.to("/team")) >= 2)
    time.sleep(1)
    assert len(http.to("/team")) == 2  # the limit holds the rest back
    wait_for("every alert", lambda: sum(len(ids_in(p)) for p in http.to("/team")) >= 12, 15)
    posts = http.to("/team")
    assert len(posts) <= 4
    all_ids = [i for p in posts for i in ids_in(p)]
    assert sorted(all_ids) == [f"w{n:05d}" for n in range(12)]  # each once, none lost
    first.stop()
    again = start(parse_config(raw), group="again")  # a restart keeps the window it used
    wait_for("the lease", lambda: again.service.consumer is not None)
    window = again.service.windows["team"]
    assert window.free(time.time()) < 2


def test_restart_neither_loses_nor_repeats_a_notification(
    settings: Settings, topic: str, http: HttpReceiver, start: Any, redis_client: redis.Redis,
    redis_prefix: str,
) -> None:  # fmt: skip
    config = parse_config(routing(http))
    http.fail = True  # decided but not deliverable: stays in the Redis outbox
    first = start(config)
    produce(settings, topic, [warning(n) for n in range(3)])
    outbox = AlertStore(redis_client, redis_prefix + "alerts:").keys.outbox("team")
    wait_for("an outbox entry", lambda: redis_client.llen(outbox) >= 1)
    first.stop()
    http.fail = False
    # A new group re-reads the topic from the start: a redelivery of everything.
    second = start(config, group="other")
    wait_for("the delivery", lambda: len(http.to("/team")) >= 1)
    produce(settings, topic, [warning(1)])
    time.sleep(2.5)
    second.stop()
    third = start(config, group="third")
    time.sleep(2.5)
    third.stop()
    assert [ids_in(p) for p in http.to("/team")] == [["w00000", "w00001", "w00002"]]
    assert redis_client.llen(outbox) == 0


def test_every_state_change_reaches_clickhouse(
    settings: Settings, topic: str, http: HttpReceiver, start: Any, clickhouse: Client,
    redis_client: redis.Redis, redis_prefix: str,
) -> None:  # fmt: skip
    database = clickhouse.execute("SELECT currentDatabase()")[0][0]
    apply_migrations(clickhouse, ServerFeatures.of(clickhouse), database)
    local = settings.model_copy(
        update={"clickhouse": settings.clickhouse.model_copy(update={"database": database})}
    )
    service = AlertService(
        local, parse_config(routing(http)), topics=[topic], group_id=f"test-ch-{uuid.uuid4()}",
        prefix=redis_prefix, max_wait_s=0.1,
        history=Client(**local.clickhouse.driver_kwargs()),  # a client is not thread-safe
    )  # fmt: skip
    running = Running(service)
    try:
        produce(settings, topic, [warning(1)])
        wait_for("sent", lambda: len(http.to("/team")) >= 1)
        assert command(redis_client, redis_prefix, "ack", ref="w00001") == {"ok": True}
        produce(settings, topic, [warning(1, "resolved")])
        query = f"SELECT kind, actor FROM {database}.alert_events FINAL ORDER BY at, kind"  # noqa: S608

        def rows() -> list[Any]:
            return list(clickhouse.execute(query))

        wait_for("three kinds", lambda: len({k for k, _ in rows()}) >= 3)
    finally:
        running.stop()
    kinds = {kind: actor for kind, actor in rows()}
    assert kinds["acked"] == "alice" and kinds["resolved"] == "warning" and "sent" in kinds


def test_second_instance_stands_by_and_takes_over_without_repeats(
    settings: Settings, topic: str, http: HttpReceiver, start: Any
) -> None:
    config = parse_config(routing(http))
    first = start(config)
    wait_for("the lease", lambda: first.service.consumer is not None)
    second = start(config)
    produce(settings, topic, [warning(1)])
    wait_for("a message", lambda: len(http.to("/team")) >= 1)
    assert second.service.consumer is None  # a standby never joins the group
    first.stop()  # releases the lease
    produce(settings, topic, [warning(2, rule_id="dpd_60"), warning(1)])
    wait_for("the standby's message", lambda: len(http.to("/team")) >= 2, 30)
    time.sleep(2)
    assert second.service.consumer is not None
    assert [ids_in(p) for p in http.to("/team")] == [["w00001"], ["w00002"]]


def own_redis(tmp_path: Any, port: int) -> subprocess.Popen[bytes]:
    """A private redis-server with an append-only file, so the test may stop and restart it."""
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
         "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    wait_for("redis", lambda: _pings(client), 10)
    return proc


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def test_redis_outage_pauses_alerting_without_loss_or_repeat(
    settings: Settings, topic: str, http: HttpReceiver, tmp_path: Any, unique: str
) -> None:
    port = free_port()
    server = own_redis(tmp_path, port)
    local = settings.model_copy(
        update={"redis": settings.redis.model_copy(update={"url": f"redis://127.0.0.1:{port}/0"})}
    )
    metrics = CountingMetrics()
    service = AlertService(
        local, parse_config(routing(http)), topics=[topic], group_id=f"test-{unique}",
        max_wait_s=0.1, history=None, metrics=metrics,
    )  # fmt: skip
    running = Running(service)
    try:
        produce(settings, topic, [warning(1)])
        wait_for("the first message", lambda: len(http.to("/team")) >= 1)
        server.terminate()  # a clean stop: the append-only file has everything
        server.wait(10)
        produce(settings, topic, [warning(2, rule_id="dpd_60"), warning(1)])
        time.sleep(2)
        assert running.thread.is_alive() and len(http.to("/team")) == 1
        server = own_redis(tmp_path, port)
        wait_for("the second message", lambda: len(http.to("/team")) >= 2, 30)
        time.sleep(2)
    finally:
        running.stop()
        server.terminate()
        server.wait(10)
    assert [ids_in(p) for p in http.to("/team")] == [["w00001"], ["w00002"]]
    assert metrics.counters["alerts.degraded_total"] == 1
    assert metrics.gauges["alerts.degraded"] == 0
