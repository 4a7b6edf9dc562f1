"""Webhooks end to end: subscribe through the API, warnings from Kafka into the outbox,
signed deliveries to a receiver that fails and then recovers, dead letters read back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import redis
import requests
from test_api_oidc import serve_loopback
from test_clickhouse_writer import free_port
from test_redis_sink import produce, warning

from api.backends import Backends
from api.keys import KeyStore
from api.roles import Role
from api.server import Running, serve_in_thread
from api.webhooks.delivery import Deliverer, HookOutbox
from api.webhooks.signing import HEADER, verify
from api.webhooks.store import HookStore
from config import Settings
from tests.cli_support import closed_port


class Receiver:
    """An HTTP receiver on loopback answering 500 to its first ``failures`` requests."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.got: list[tuple[int, dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 500 if len(outer.got) < outer.failures else 204
                outer.got.append((status, dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None: ...

        self.server, base = serve_loopback(Handler)
        self.url = base + "/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver(failures=2)
    yield got
    got.close()


@pytest.fixture
def api(settings: Settings, redis_prefix: str) -> Iterator[Running]:
    local = settings.model_copy(
        update={
            "api": settings.api.model_copy(
                update={"port": free_port(), "audit": False, "webhook_private_targets": True}
            )
        }
    )
    running = serve_in_thread(Backends.from_settings(local, prefix=redis_prefix))
    yield running
    running.stop()


def until(
    what: str, done: Callable[[], bool], step: Callable[[], Any], timeout_s: float = 30
) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        step()
        time.sleep(0.05)


def test_a_subscribed_warning_is_signed_retried_until_the_receiver_recovers_and_dead_lettered(
    settings: Settings, api: Running, topic: str, redis_client: redis.Redis, redis_prefix: str,
    receiver: Receiver,
) -> None:  # fmt: skip
    keys = KeyStore(redis_client, redis_prefix)
    auth = {"Authorization": f"Bearer {keys.create('crm', Role.INTEGRATION)[1]}"}
    other = {"Authorization": f"Bearer {keys.create('erp', Role.INTEGRATION)[1]}"}
    made = requests.post(
        f"{api.url}/v1/webhooks", headers=auth, timeout=10,
        json={"url": receiver.url, "filter": {"min_severity": "high", "statuses": ["open"]}},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    hook = made.json()
    dead_url = f"http://127.0.0.1:{closed_port()}/gone"
    gone = requests.post(f"{api.url}/v1/webhooks", headers=auth, timeout=10, json={"url": dead_url})
    assert gone.status_code == 201
    bad = requests.post(f"{api.url}/v1/webhooks", headers=auth, timeout=10, json={"url": "ftp://x"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"].startswith("body.url")

    produce(settings, topic, [warning(1, severity="high"), warning(2, severity="low")])
    store = HookStore(redis_client, redis_prefix)
    outbox = HookOutbox(settings, store, topics=[topic], group_id=f"test-hooks-{uuid.uuid4().hex}",
                        max_wait_s=0.2)  # fmt: skip
    queued = 0
    try:
        seen = 0
        deadline = time.monotonic() + 30
        while seen < 2:
            assert time.monotonic() < deadline
            result = outbox.drain_once()
            seen += result.consumed
            queued += result.queued
    finally:
        outbox.close()
    assert queued == 3  # the high one to both hooks, the low one to the catch-all only

    def deliverer() -> Deliverer:  # a new one each time: a restart between tries
        return Deliverer(store, max_attempts=3, backoff_s=0.05, timeout_s=2, allow_private=True)

    until(
        "the receiver's recovery",
        lambda: any(status == 204 for status, _, _ in receiver.got),
        lambda: deliverer().deliver_due(),
    )
    assert [status for status, _, _ in receiver.got] == [500, 500, 204]
    _, headers, body = receiver.got[-1]
    assert verify(hook["secret"].encode(), headers[HEADER], body, now=int(time.time()))
    assert not verify(b"another secret", headers[HEADER], body, now=int(time.time()))
    assert b'"warning_id":"w0001"' in body
    until(
        "the dead letters",
        lambda: len(store.dead_letters(gone.json()["hook_id"])) == 2,
        lambda: deliverer().deliver_due(),
    )
    letters = requests.get(
        f"{api.url}/v1/webhooks/{gone.json()['hook_id']}/dead-letters", headers=auth, timeout=10
    ).json()["dead_letters"]
    assert {letter["body"]["warning_id"] for letter in letters} == {"w0001", "w0002"}
    assert all(letter["attempts"] == 3 and "Connection" in letter["error"] for letter in letters)

    listed = requests.get(f"{api.url}/v1/webhooks", headers=auth, timeout=10).json()["webhooks"]
    assert {h["hook_id"] for h in listed} == {hook["hook_id"], gone.json()["hook_id"]}
    assert all("secret" not in h for h in listed)
    assert requests.get(f"{api.url}/v1/webhooks", headers=other, timeout=10).json() == {
        "webhooks": []
    }
    theirs = requests.delete(f"{api.url}/v1/webhooks/{hook['hook_id']}", headers=other, timeout=10)
    assert theirs.status_code == 404
    mine = requests.delete(f"{api.url}/v1/webhooks/{hook['hook_id']}", headers=auth, timeout=10)
    assert mine.status_code == 204 and store.get(hook["hook_id"]) is None


def test_a_webhook_into_the_services_own_network_is_refused(
    settings: Settings, redis_client: redis.Redis, redis_prefix: str
) -> None:
    local = settings.model_copy(
        update={"api": settings.api.model_copy(update={"port": free_port(), "audit": False})}
    )
    api = serve_in_thread(Backends.from_settings(local, prefix=redis_prefix))
    try:
        token = KeyStore(redis_client, redis_prefix).create("crm", Role.INTEGRATION)[1]
        auth = {"Authorization": f"Bearer {token}"}
        for url, says in (
            ("http://127.0.0.1:6379/", "loopback"),
            ("http://10.0.0.8/hook", "private"),
            ("http://169.254.169.254/latest/meta-data", "link-local"),
            ("http://[::1]:8090/v1/webhooks", "loopback"),
        ):
            made = requests.post(f"{api.url}/v1/webhooks", headers=auth, json={"url": url},
                                 timeout=10)  # fmt: skip
            assert made.status_code == 400, (url, made.text)
            assert says in made.json()["detail"] and made.json()["errors"][0]["field"] == "body.url"
        assert HookStore(redis_client, redis_prefix).subscriptions() == []
    finally:
        api.stop()
