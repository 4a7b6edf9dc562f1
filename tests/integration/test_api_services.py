"""The API beside the other services: acks applied by a live alerts service, keys made by
the `loanwatch api-key` command, and a store that does not answer."""

from __future__ import annotations

import subprocess
from typing import Any

import redis
import requests
from test_alerts_endpoints import loanwatch, receiver, service  # noqa: F401 - fixtures
from test_alerts_service import HttpReceiver, wait_for, warning
from test_clickhouse_writer import free_port
from test_redis_sink import produce

from api.backends import Backends
from api.keys import KeyStore
from api.roles import Role
from api.server import serve_in_thread
from config import Settings
from sinks.alerts.service import AlertService
from tests.cli_support import closed_port


def _serve(settings: Settings, prefix: str, **redis_changes: Any) -> Any:
    local = settings.model_copy(
        update={
            "api": settings.api.model_copy(
                update={"port": free_port(), "audit": False, "alert_wait_s": 10.0}
            ),
            "redis": settings.redis.model_copy(update=redis_changes),
        }
    )
    return serve_in_thread(Backends.from_settings(local, prefix=prefix))


def test_an_ack_and_a_resolve_are_applied_by_the_running_alerts_service(
    settings: Settings, topic: str, redis_prefix: str, redis_client: redis.Redis,
    receiver: HttpReceiver, service: tuple[AlertService, str],  # noqa: F811 - the fixtures
) -> None:  # fmt: skip
    alerts, _ = service
    api = _serve(settings, redis_prefix)
    try:
        token = KeyStore(redis_client, redis_prefix).create("erin", Role.ANALYST)[1]
        auth = {"Authorization": f"Bearer {token}"}
        produce(settings, topic, [warning(1)])
        wait_for("the first message", lambda: len(receiver.to("/team")) >= 1)
        acked = requests.post(f"{api.url}/v1/alerts/w00001/ack", headers=auth, timeout=20)
        assert acked.status_code == 200 and acked.json()["ok"], acked.text
        (alert,) = [a for a in alerts.store.snapshot()[0] if a.alert.warning_id == "w00001"]
        assert alert.acked_by == "erin" and alert.acked_at is not None
        unknown = requests.post(f"{api.url}/v1/alerts/w99999/resolve", headers=auth, timeout=20)
        assert unknown.status_code == 404, unknown.text
        assert unknown.headers["content-type"] == "application/problem+json"
        assert unknown.json()["errors"][0]["field"] == "alert_ref"
        resolved = requests.post(f"{api.url}/v1/alerts/w00001/resolve", headers=auth, timeout=20)
        assert resolved.status_code == 200, resolved.text
    finally:
        api.stop()


def _cli(prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    return loanwatch(prefix, "api-key", *args)


def test_api_key_create_list_and_revoke_from_the_command_line(
    stack: object, redis_client: redis.Redis, redis_prefix: str
) -> None:
    made = _cli(redis_prefix, "create", "crm-prod", "--role", "integration", "--team", "t1")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    keys = KeyStore(redis_client, redis_prefix)
    principal, _ = keys.verify(token)
    assert principal is not None and principal.role is Role.INTEGRATION and principal.team == "t1"
    stored = b"".join(redis_client.hvals(f"{redis_prefix}api:keys"))
    assert token.split("_")[-1].encode() not in stored  # only the hash is kept
    listed = _cli(redis_prefix, "list", "--json")
    assert listed.returncode == 0 and '"name": "crm-prod"' in listed.stdout
    assert token not in listed.stdout
    key_id = token.split("_")[1]
    assert _cli(redis_prefix, "revoke", key_id).returncode == 0
    assert "revoked" in keys.verify(token)[1]
    unknown = _cli(redis_prefix, "revoke", "000000000000")
    assert unknown.returncode == 2 and "no API key '000000000000'" in unknown.stderr
    bad = _cli(redis_prefix, "create", "crm", "--role", "superuser")
    assert bad.returncode == 2


def test_a_redis_that_does_not_answer_is_a_503_naming_it_and_readyz_says_so(
    settings: Settings, redis_prefix: str
) -> None:
    api = _serve(settings, redis_prefix, url=f"redis://127.0.0.1:{closed_port()}/0")
    try:
        token = "lwk_000000000000_" + "x" * 43
        card = requests.get(
            f"{api.url}/v1/loans/L-1", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert card.status_code == 503, card.text
        assert card.headers["content-type"] == "application/problem+json"
        assert card.json()["detail"].startswith("Redis is unavailable")
        ready = requests.get(f"{api.url}/readyz", timeout=10)
        assert ready.status_code == 503
        states = ready.json()["dependencies"]
        assert states["redis"].startswith("unavailable") and states["kafka"] == "ok"
        figures = requests.get(f"{api.url}/metrics", timeout=10).text
        assert "loanwatch_model_metrics_up 0.0" in figures
    finally:
        api.stop()
