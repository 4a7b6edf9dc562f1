"""The HTTP API on the real stack: roles, keys, bad input, audit rows, each endpoint.

One served API per test over its own Redis prefix, ClickHouse database and topics;
cards and warnings come from the real sink writers, fed through Kafka.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import redis
import requests
from clickhouse_driver import Client
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic
from test_clickhouse_writer import disbursement, free_port
from test_redis_sink import warning

from api.backends import Backends
from api.keys import KeyStore
from api.limits import window
from api.roles import GRANTS, Role, allowed
from api.server import Running, serve_in_thread
from config import Settings
from rules.decode import decode_event
from sinks.clickhouse.dialect import ServerFeatures
from sinks.clickhouse.migrations import apply_migrations
from sinks.clickhouse.writer import ClickHouseWriter
from sinks.redis.keys import RedisKeys
from sinks.redis.writer import RedisWriter

ACTION = {
    "schema_version": 1,
    "action_id": "a-100",
    "kind": "collection_step",
    "name": "phone_call",
    "loan_id": "L-000001",
    "borrower_id": "bw-1",
    "due_on": "2026-03-05",
    "reason": "dpd_30",
    "params": {"channel": "phone"},
    "event_id": None,
    "produced_at": "2026-03-05T00:00:00+00:00",
}
REVIEW = {**ACTION, "action_id": "a-101", "kind": "review", "name": "periodic",
          "loan_id": "L-000002", "borrower_id": "bw-2", "due_on": "2026-03-09"}  # fmt: skip
WARNINGS = [warning(n, owner_team="collections" if n % 2 else "reviews") for n in range(1, 8)]
"""Seven warnings on three loans, two teams, event times a day apart."""


@dataclass
class Api:
    running: Running
    tokens: dict[str, str]  # role (or "revoked") -> token
    database: str
    events_topic: str
    admin: Client

    @property
    def url(self) -> str:
        return self.running.url

    def call(self, method: str, path: str, who: str | None, **kw: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def audit(self) -> list[dict[str, Any]]:
        self.running.audit.flush()  # type: ignore[union-attr]
        rows, columns = self.admin.execute(
            f"SELECT * FROM {self.database}.api_audit ORDER BY at, request_id",  # noqa: S608
            with_column_types=True,
        )
        return [dict(zip([c[0] for c in columns], row, strict=True)) for row in rows]


def _topics(admin: AdminClient, *names: str) -> None:
    futures = admin.create_topics(
        [NewTopic(n, num_partitions=2, replication_factor=1) for n in names]
    )
    for future in futures.values():
        future.result(timeout=30)


def _feed(settings: Settings, topic: str, bodies: list[dict[str, Any]], key: str) -> None:
    from confluent_kafka import Producer

    producer = Producer(settings.kafka.producer_config())
    for body in bodies:
        producer.produce(topic, key=body[key].encode(), value=orjson.dumps(body))
    assert producer.flush(30) == 0


def _drain(writer: Any, expected: int) -> None:
    seen, deadline = 0, time.monotonic() + 60
    while seen < expected:
        assert time.monotonic() < deadline, f"drained {seen} of {expected}"
        seen += writer.drain_once().consumed


@pytest.fixture
def api(
    settings: Settings,
    kafka_admin: AdminClient,
    redis_client: redis.Redis,
    redis_prefix: str,
    clickhouse: Client,
    unique: str,
) -> Iterator[Api]:
    database = clickhouse.execute("SELECT currentDatabase()")[0][0]
    apply_migrations(clickhouse, ServerFeatures.of(clickhouse), database)
    names = {k: f"test.{unique}.{k}" for k in ("warnings", "actions", "book", "events")}
    _topics(kafka_admin, *names.values())
    local = settings.model_copy(
        update={
            "clickhouse": settings.clickhouse.model_copy(update={"database": database}),
            "api": settings.api.model_copy(
                update={"port": free_port(), "alert_wait_s": 0.2, "audit_flush_s": 0.2}
            ),
        }
    )
    _feed(local, names["warnings"], WARNINGS, "loan_id")
    _feed(local, names["actions"], [ACTION, REVIEW], "action_id")
    _feed(local, names["book"], [disbursement("L-QUIET")], "loan_id")
    group = f"test-api-{uuid.uuid4().hex}"
    rw = RedisWriter(local, topics=[names["warnings"]], group_id=group + "-r", prefix=redis_prefix)
    cw = ClickHouseWriter(
        local,
        topics={names["warnings"]: "warnings", names["actions"]: "actions", names["book"]: "loans"},
        group_id=group + "-c",
        max_wait_s=0.3,
    )
    try:
        _drain(rw, len(WARNINGS))
        _drain(cw, len(WARNINGS) + 3)
    finally:
        rw.close()
        cw.close()
    keys = KeyStore(redis_client, redis_prefix)
    tokens = {role.value: keys.create(f"{role.value}-test", role)[1] for role in Role}
    revoked, tokens["revoked"] = keys.create("gone", Role.RISK_ADMIN)
    keys.revoke(revoked.key_id)
    tokens["team"] = keys.create("reviews-desk", Role.ANALYST, team="reviews")[1]
    tokens["team-collector"] = keys.create("m1-desk", Role.COLLECTOR, team="coll-m1")[1]
    backends = Backends.from_settings(
        local, prefix=redis_prefix, database=database, events_topic=names["events"]
    )
    running = serve_in_thread(backends)
    try:
        yield Api(running, tokens, database, names["events"], clickhouse)
    finally:
        running.stop()
        kafka_admin.delete_topics(list(names.values()))


REQUESTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "GET /v1/loans/{loan_id}": ("GET", "/v1/loans/L-000001", {}),
    "GET /v1/borrowers/{borrower_ref}": ("GET", "/v1/borrowers/bw-1", {}),
    "GET /v1/top-risk": ("GET", "/v1/top-risk?n=2", {}),
    "GET /v1/actions": ("GET", "/v1/actions?kind=collection_step", {}),
    "GET /v1/warnings": ("GET", "/v1/warnings?limit=2", {}),
    "POST /v1/alerts/{alert_ref}/ack": ("POST", "/v1/alerts/3f9c0a1b2c3d/ack", {}),
    "POST /v1/alerts/{alert_ref}/resolve": ("POST", "/v1/alerts/3f9c0a1b2c3d/resolve", {}),
    "POST /v1/actions/{action_id}/outcome": (
        "POST",
        "/v1/actions/a-100/outcome",
        {"json": {"outcome": "refused", "note": "Says he will not pay.", "team": "coll-m1"}},
    ),
    "POST /v1/webhooks": ("POST", "/v1/webhooks", {"json": {"url": "http://93.184.216.34/x"}}),
    "GET /v1/webhooks": ("GET", "/v1/webhooks", {}),
    "DELETE /v1/webhooks/{hook_id}": ("DELETE", "/v1/webhooks/wh-000000000000", {}),
    "GET /v1/webhooks/{hook_id}/dead-letters": (
        "GET",
        "/v1/webhooks/wh-000000000000/dead-letters",
        {},
    ),  # fmt: skip
}


def test_every_role_is_admitted_or_refused_at_every_endpoint_as_the_grants_say(api: Api) -> None:
    assert set(REQUESTS) == set(GRANTS)
    for endpoint, (method, path, kw) in REQUESTS.items():
        for role in Role:
            response = api.call(method, path, role.value, **kw)
            if allowed(endpoint, role):  # admitted: what follows is the endpoint's own answer
                expected = (404,) if "wh-000000000000" in path else (200, 201, 202)
                assert response.status_code in expected, (endpoint, role, response.text)
            else:
                assert response.status_code == 403, (endpoint, role, response.text)
                problem = response.json()
                assert response.headers["content-type"] == "application/problem+json"
                assert f"role {role.value} may not call {endpoint}" in problem["detail"]


def test_a_missing_revoked_wrong_or_forged_key_is_refused_with_401(api: Api) -> None:
    good = api.tokens["viewer"]
    cases = {
        None: "missing: send Bearer",
        "revoked": "revoked",
    }
    for who, says in cases.items():
        response = api.call("GET", "/v1/loans/L-000001", who)
        assert response.status_code == 401, response.text
        assert says in response.json()["detail"]
        assert response.json()["errors"][0]["field"] == "Authorization"
    for token, says in (
        (good[:-1] + ("A" if good[-1] != "A" else "B"), "wrong secret"),
        ("lwk_000000000000_" + "x" * 43, "unknown API key"),
        ("eyJhbGciOiJub25lIn0.e30.", "not an API key"),
    ):
        response = requests.get(
            api.url + "/v1/loans/L-000001",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 401, token
        assert says in response.json()["detail"]
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_key_revoked_while_in_use_is_refused_on_its_next_card_and_sees_no_card(
    api: Api, redis_client: redis.Redis, redis_prefix: str
) -> None:
    keys = KeyStore(redis_client, redis_prefix)
    key, token = keys.create("crm-rotating", Role.INTEGRATION)
    with requests.Session() as session:  # one keep-alive connection, as an integration holds
        session.headers["Authorization"] = f"Bearer {token}"
        for _ in range(3):
            assert session.get(api.url + "/v1/loans/L-000001", timeout=10).status_code == 200
        keys.revoke(key.key_id)
        refused = session.get(api.url + "/v1/loans/L-000001", timeout=10)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert "bw-1" not in refused.text and "dpd" not in refused.text


def test_bad_inputs_are_problems_naming_the_field_and_never_reach_kafka(api: Api) -> None:
    cases = [
        ("GET", "/v1/top-risk?n=0", {}, "query.n"),
        ("GET", "/v1/top-risk?n=many", {}, "query.n"),
        ("GET", "/v1/warnings?limit=100000", {}, "query.limit"),
        ("GET", "/v1/warnings?cursor=bm90LWEtY3Vyc29y", {}, "query.cursor"),
        ("GET", "/v1/warnings?since=2026-03-01T00:00:00", {}, "query.since"),
        ("GET", "/v1/warnings?severity=urgent", {}, "query.severity"),
        ("POST", "/v1/actions/a-100/outcome", {"json": {"outcome": "promise_to_pay"}}, "body"),
        ("POST", "/v1/actions/a-100/outcome", {"json": {"outcome": "waved"}}, "body.outcome"),
        (
            "POST",
            "/v1/actions/a-100/outcome",
            {"json": {"outcome": "refused", "team": "x", "extra": 1}},
            "body.extra",
        ),
        ("POST", "/v1/actions/a-100/outcome", {"data": b"{not json"}, "body"),
        ("POST", "/v1/actions/a-100/outcome", {"json": {"outcome": "refused"}}, "body.team"),
    ]
    for method, path, kw, field in cases:
        response = api.call(method, path, "risk-admin", **kw)
        assert response.status_code == 400, (path, kw, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        fields = [e["field"] for e in response.json()["errors"]]
        assert any(f.startswith(field) for f in fields), (path, kw, fields)
    missing = api.call("GET", "/v1/loans/L-404", "viewer")
    assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "loan_id"
    assert "no loan L-404: no risk card and no disbursement" in missing.json()["detail"]
    quiet = api.call("GET", "/v1/loans/L-QUIET", "viewer")
    assert quiet.status_code == 200 and quiet.json() == {
        "loan_id": "L-QUIET", "quiet": True, "disbursed_on": "2026-01-05",
        "open_warnings": 0, "open": {}, "recent": [],
    }  # fmt: skip
    unknown = api.call(
        "POST", "/v1/actions/a-404/outcome", "collector", json={"outcome": "refused", "team": "t"}
    )
    assert unknown.status_code == 404 and "no action a-404" in unknown.json()["detail"]
    assert api.call("GET", "/v1/nowhere", "viewer").status_code == 404
    assert _events(api, expect=0) == []


def test_the_card_masks_the_borrower_for_viewers_and_shows_it_to_collectors(api: Api) -> None:
    viewer = api.call("GET", "/v1/loans/L-000001", "viewer").json()
    collector = api.call("GET", "/v1/loans/L-000001", "collector").json()
    assert collector["borrower_id"] == "bw-1"
    assert viewer["borrower_id"].startswith("bw#") and viewer["borrower_id"] != "bw-1"
    assert viewer["dpd"] == collector["dpd"] == 30
    assert set(collector["open"]) == {"w0001", "w0004", "w0007"}
    assert all(w["borrower_id"] == viewer["borrower_id"] for w in viewer["open"].values())
    top = api.call("GET", "/v1/top-risk?n=2", "analyst").json()["loans"]
    assert len(top) == 2 and all(row["borrower_id"].startswith("bw#") for row in top)
    assert top[0]["score"] >= top[1]["score"]


def test_warnings_page_newest_first_with_a_cursor_and_filters(api: Api) -> None:
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        query = "/v1/warnings?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = api.call("GET", query, "analyst").json()
        seen += [w["warning_id"] for w in page["warnings"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"w{n:04d}" for n in range(7, 0, -1)]
    filtered = api.call(
        "GET",
        "/v1/warnings?team=reviews&since=2026-03-03T00:00:00%2B00:00&until=2026-03-07T00:00:00Z",
        "viewer",
    ).json()["warnings"]
    assert [w["warning_id"] for w in filtered] == ["w0004", "w0002"]
    assert filtered[0]["reasons"] == [{"name": "loan.dpd", "value": 30}]
    scoped = api.call("GET", "/v1/warnings", "team").json()["warnings"]
    assert {w["owner_team"] for w in scoped} == {"reviews"}
    other = api.call("GET", "/v1/warnings?team=collections", "team")
    assert other.status_code == 403 and other.json()["errors"][0]["field"] == "team"
    for_other = api.call(
        "POST",
        "/v1/actions/a-100/outcome",
        "team-collector",
        json={"outcome": "refused", "team": "x"},
    )
    assert for_other.status_code == 403 and for_other.json()["errors"][0]["field"] == "body.team"


def test_actions_page_latest_due_first_and_a_borrower_rolls_up_their_loans(api: Api) -> None:
    first = api.call("GET", "/v1/actions?limit=1", "analyst").json()
    assert [a["action_id"] for a in first["actions"]] == ["a-101"]
    assert first["actions"][0]["borrower_id"].startswith("bw#")
    rest = api.call("GET", f"/v1/actions?limit=1&cursor={first['next_cursor']}", "collector")
    (action,) = rest.json()["actions"]
    assert rest.json()["next_cursor"] is None
    assert action == {
        "action_id": "a-100", "kind": "collection_step", "name": "phone_call",
        "loan_id": "L-000001", "borrower_id": "bw-1", "due_on": "2026-03-05",
        "reason": "dpd_30", "params": {"channel": "phone"}, "event_id": None,
        "produced_at": "2026-03-05T00:00:00+00:00",
    }  # fmt: skip
    due = api.call("GET", "/v1/actions?due_from=2026-03-06&kind=review", "collector").json()
    assert [a["action_id"] for a in due["actions"]] == ["a-101"]
    rollup = api.call("GET", "/v1/borrowers/bw-1", "integration").json()
    assert rollup["borrower_id"] == "bw-1" and rollup["open_warnings"] == 3
    assert set(rollup["by_loan"]) == {"L-000001"}
    missing = api.call("GET", "/v1/borrowers/bw-404", "integration")
    assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "borrower_ref"


def _events(api: Api, expect: int, timeout_s: float = 5.0) -> list[Any]:
    consumer = Consumer(
        {
            **api.running.backends.settings.kafka.confluent_config(),
            "group.id": f"test-api-read-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([api.events_topic])
    out: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and (expect == 0 or len(out) < expect):
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                assert message.key() == b"L-000001"
                out.append(decode_event(message.value()))
    finally:
        consumer.close()
    return out


def test_an_outcome_becomes_a_collection_note_and_its_label_on_the_events_topic(api: Api) -> None:
    response = api.call(
        "POST",
        "/v1/actions/a-100/outcome",
        "collector",
        json={
            "outcome": "promise_to_pay",
            "note": "Promises the full installment on the 15th.",
            "promise_to_pay": {"date": "2026-03-15", "amount": 103000},
            "team": "collections-m1",
            "event_id": "crm-778",
        },
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"events": ["crm-778", "crm-778-label"], "loan_id": "L-000001"}
    events = _events(api, expect=2, timeout_s=30)
    note, label = sorted(events, key=lambda e: e.event_id)
    assert note.type == "collection_note" and note.borrower_id == "bw-1"
    assert note.promise_to_pay.amount == 103000 and note.author_team == "collections-m1"
    assert label.type == "note_labelled" and label.intent == "promise_to_pay"
    assert label.note_event_id == "crm-778" and label.text == note.text


def test_every_request_allowed_or_denied_is_an_audit_row(api: Api) -> None:
    api.call("GET", "/v1/loans/L-000001", "viewer")
    api.call("GET", "/v1/warnings", "collector")
    api.call("GET", "/v1/loans/L-000001", "revoked")
    api.call("GET", "/v1/top-risk?n=0", "analyst")
    api.call("GET", "/healthz", None)
    rows = {r["status"]: r for r in api.audit()}  # 18.16 keeps seconds: order by status
    shown = [(r["role"], r["endpoint"], r["target"], r["result"]) for r in rows.values()]
    assert sorted(shown) == [
        ("", "/v1/loans/{loan_id}", "L-000001", "denied"),
        ("analyst", "/v1/top-risk", "", "refused"),
        ("collector", "/v1/warnings", "", "denied"),
        ("viewer", "/v1/loans/{loan_id}", "L-000001", "allowed"),
    ]
    assert set(rows) == {200, 400, 401, 403}
    assert rows[200]["name"] == "viewer-test" and rows[200]["subject"].startswith("key:")
    assert "revoked" in rows[401]["reason"] and "query.n" in rows[400]["reason"]
    assert "may not call" in rows[403]["reason"]
    assert all(r["method"] == "GET" and r["client"].startswith("127.0.0.1:") for r in rows.values())


def test_a_key_past_its_rate_is_a_429_with_retry_after_and_others_go_on(
    api: Api, redis_client: redis.Redis, redis_prefix: str
) -> None:
    token = KeyStore(redis_client, redis_prefix).create("tight", Role.VIEWER, rate_per_minute=3)[1]
    api.tokens["tight"] = token
    for _ in range(2):  # again if the minute turned over between the calls
        minute = window(time.time())[0]
        statuses = [api.call("GET", "/v1/top-risk?n=1", "tight").status_code for _ in range(5)]
        if window(time.time())[0] == minute:
            break
    assert statuses == [200, 200, 200, 429, 429]
    limited = api.call("GET", "/v1/top-risk?n=1", "tight")
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    assert "more than 3 requests this minute" in limited.json()["detail"]
    assert api.call("GET", "/v1/top-risk?n=1", "viewer").status_code == 200
    assert any(r["result"] == "limited" and r["name"] == "tight" for r in api.audit())


def test_probes_report_each_dependency_and_prometheus_figures(
    api: Api, redis_client: redis.Redis, redis_prefix: str
) -> None:
    record = {
        "model": "pd", "partition": 3, "model_version": "pd-logistic.0/intent.0", "n": 812,
        "roc_auc": 0.81, "log_loss": None, "produced_at": "2026-03-02T09:00:00+00:00",
    }  # fmt: skip
    redis_client.hset(RedisKeys(redis_prefix).model_metrics, "pd/p3", orjson.dumps(record))
    assert requests.get(api.url + "/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(api.url + "/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["dependencies"] == {"redis": "ok", "clickhouse": "ok", "kafka": "ok"}
    api.call("GET", "/v1/loans/L-000001", "viewer")
    text = requests.get(api.url + "/metrics", timeout=5).text
    assert (
        'loanwatch_api_requests_total{endpoint="/v1/loans/{loan_id}",method="GET",'
        'result="allowed",status="200"} 1.0' in text
    )
    assert "loanwatch_api_request_seconds_bucket" in text
    labels = 'model="pd",model_version="pd-logistic.0/intent.0",partition="3"'
    assert f"loanwatch_model_roc_auc{{{labels}}} 0.81" in text
    assert f"loanwatch_model_n{{{labels}}} 812.0" in text
    assert "loanwatch_model_log_loss{" not in text  # not defined yet: left out, not 0
    assert "loanwatch_model_metrics_up 1.0" in text
    # the Redis sink's view, as the fixture's writer left it: 7 warnings open on 3 loans
    for line in (
        "loanwatch_redis_view_up 1.0",
        "loanwatch_redis_view_present 1.0",
        "loanwatch_open_risk_loans 3.0",
        "loanwatch_warnings_stream_entries 7.0",
        "loanwatch_kafka_figures_up 1.0",
    ):
        assert line in text.splitlines(), line
    redis_client.delete(RedisKeys(redis_prefix).view)  # Redis lost the view
    text = requests.get(api.url + "/metrics", timeout=5).text
    assert "loanwatch_redis_view_present 0.0" in text.splitlines()
