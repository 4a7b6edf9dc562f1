"""The ack endpoint against hostile requests: a real server on loopback over a real Redis.

Each hole a hostile test once found has its test here: an unauthenticated or
cross-site ack, an unauthenticated read, a body parsed before the credential, an
overflowing silence, hidden characters in refs and names. The endpoint answers them
all with a JSON 4xx naming the field, and queues nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import requests
from test_clickhouse_writer import free_port

from config import Settings
from sinks.alerts.access import Access
from sinks.alerts.http import SECURITY_HEADERS, make_app, serve_in_thread
from sinks.alerts.store import AlertStore

TOKEN = "s3cret-token-for-http-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Served:
    """An endpoint on loopback over its own Redis prefix; ``wait_s=0``: requests just queue."""

    def __init__(self, settings: Settings, access: Access, prefix: str) -> None:
        self.client = redis.Redis.from_url(settings.redis.url, **settings.redis.client_kwargs())
        self.prefix = prefix
        self.store = AlertStore(self.client, prefix + "alerts:")
        self.port = free_port()
        self.stop = serve_in_thread(make_app(self.store, access, wait_s=0), "127.0.0.1", self.port)
        self.base = f"http://127.0.0.1:{self.port}"

    def queued(self) -> list[dict[str, Any]]:
        return self.store.pending_commands(10_000)

    def state(self) -> tuple[list[bytes], int]:
        """Every key under the prefix and the command queue's length: what a request can change."""
        keys = sorted(self.client.scan_iter(match=self.prefix + "*"))
        return keys, int(self.client.llen(self.store.keys.commands))

    def close(self) -> None:
        self.stop()
        keys = list(self.client.scan_iter(match=self.prefix + "*"))
        if keys:
            self.client.delete(*keys)
        self.client.close()


@pytest.fixture(scope="module")
def guarded(stack: object, settings: Settings) -> Iterator[Served]:
    """Token mode, as `alerts run` serves with ALERTS__HTTP_TOKEN."""
    served = Served(settings, Access.with_token(TOKEN), f"test:http-{free_port()}:")
    yield served
    served.close()


@pytest.fixture(scope="module")
def local(stack: object, settings: Settings) -> Iterator[Served]:
    """Local-only mode, as `alerts run --local-only` serves."""
    served = Served(settings, Access.local(), f"test:http-local-{free_port()}:")
    yield served
    served.close()


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def test_a_page_on_another_site_cannot_ack_through_a_local_only_endpoint(local: Served) -> None:
    before = local.state()
    forged = [
        requests.post(f"{local.base}/ack/3f9c0a1b2c4d", data={"by": "x"}, timeout=10),
        requests.post(
            f"{local.base}/ack/3f9c0a1b2c4d",
            data={"by": "x"},
            headers={"Origin": "https://evil.example"},
            timeout=10,
        ),
        requests.post(
            f"{local.base}/ack/3f9c0a1b2c4d",
            json={"by": "x"},
            headers={"Sec-Fetch-Site": "cross-site"},
            timeout=10,
        ),
        requests.post(  # a "simple" request a page may send without a CORS preflight
            f"{local.base}/ack/3f9c0a1b2c4d",
            data=b'{"by": "x"}',
            headers={"Content-Type": "text/plain"},
            timeout=10,
        ),
    ]
    assert [r.status_code for r in forged] == [403, 403, 403, 415]
    assert [r.json()["error"].split(":")[0] for r in forged] == [
        "csrf",
        "Origin",
        "Sec-Fetch-Site",
        "Content-Type",
    ]
    assert local.state() == before


def test_a_rebound_domain_is_refused_by_a_local_only_endpoint(local: Served) -> None:
    read = requests.get(
        f"{local.base}/alerts", headers={"Host": f"evil.example:{local.port}"}, timeout=10
    )
    assert read.status_code == 403 and read.json()["error"].startswith("Host:")


@pytest.mark.parametrize("mode", ["guarded", "local"])
def test_the_form_from_a_chat_link_acks_with_its_csrf_token(
    mode: str, request: pytest.FixtureRequest
) -> None:
    served: Served = request.getfixturevalue(mode)
    browser = requests.Session()
    page = browser.get(f"{served.base}/ack/3f9c0a1b2c4d", timeout=10)
    assert page.status_code == 200 and 'name="by"' in page.text
    fields = {"by": "carol", "csrf": csrf_of(page.text)}
    if mode == "guarded":
        assert 'name="token"' in page.text
        wrong = browser.post(
            f"{served.base}/ack/3f9c0a1b2c4d", data={**fields, "token": "guess"}, timeout=10
        )
        assert wrong.status_code == 401 and wrong.json()["error"].startswith("token:")
        fields["token"] = TOKEN
    stranger = requests.post(f"{served.base}/ack/3f9c0a1b2c4d", data=fields, timeout=10)
    assert stranger.status_code == 403  # the token without this browser's cookie
    elsewhere = browser.post(f"{served.base}/resolve/3f9c0a1b2c4d", data=fields, timeout=10)
    assert elsewhere.status_code == 403  # a token is for its own form only
    before = len(served.queued())
    done = browser.post(f"{served.base}/ack/3f9c0a1b2c4d", data=fields, timeout=10)
    assert done.status_code == 202, done.text
    (command,) = served.queued()[before:]
    assert (command["op"], command["ref"], command["by"]) == ("ack", "3f9c0a1b2c4d", "carol")


def test_reading_the_alerts_needs_the_token(guarded: Served) -> None:
    assert requests.get(f"{guarded.base}/alerts", timeout=10).status_code == 401
    read = requests.get(f"{guarded.base}/alerts", headers=AUTH, timeout=10)
    assert read.status_code == 200 and set(read.json()) == {"groups", "silences"}


def test_every_response_carries_the_security_headers(guarded: Served) -> None:
    answers = [
        requests.get(f"{guarded.base}/ack/3f9c0a1b2c4d", timeout=10),
        requests.get(f"{guarded.base}/alerts", timeout=10),
        requests.get(f"{guarded.base}/alerts", headers=AUTH, timeout=10),
        requests.get(f"{guarded.base}/nowhere", headers=AUTH, timeout=10),
        requests.put(f"{guarded.base}/alerts", headers=AUTH, timeout=10),
    ]
    assert [a.status_code for a in answers] == [200, 401, 200, 404, 405]
    for answer in answers:
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers.get(name) == value, (answer.url, name)
    assert "default-src 'none'" in SECURITY_HEADERS["Content-Security-Policy"]
    assert "form-action 'self'" in SECURITY_HEADERS["Content-Security-Policy"]
    assert all("error" in a.json() for a in answers[1:] if a.status_code >= 400)


def test_a_body_is_not_read_before_the_credential(guarded: Served) -> None:
    garbage = {"Content-Type": "application/json"}
    anonymous = requests.post(f"{guarded.base}/silences", data=b"{", headers=garbage, timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["error"].startswith("Authorization")
    known = requests.post(
        f"{guarded.base}/silences", data=b"{", headers={**garbage, **AUTH}, timeout=10
    )
    assert known.status_code == 400 and known.json()["error"].startswith("body:")


@pytest.mark.parametrize("duration", ["99999999999h", "91d", 1e300, 10**400, "-1s", [1]])
def test_a_silence_longer_than_its_bound_is_refused_naming_the_field(
    guarded: Served, duration: Any
) -> None:
    body = {"by": "carol", "matchers": ['team="x"'], "duration": duration}
    before = guarded.state()
    if isinstance(duration, int) and duration > 2**64:  # beyond JSON libraries: send it raw
        sent = requests.post(
            f"{guarded.base}/silences",
            data=f'{{"by": "carol", "matchers": ["team=\\"x\\""], "duration": {duration}}}',
            headers={**AUTH, "Content-Type": "application/json"},
            timeout=10,
        )
    else:
        sent = requests.post(f"{guarded.base}/silences", json=body, headers=AUTH, timeout=10)
    assert sent.status_code == 400, sent.text
    assert sent.json()["error"].split(":")[0] in ("duration", "body")
    if duration in ("99999999999h", "91d"):
        assert sent.json()["error"].startswith("duration: at most 90d")
    assert guarded.state() == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/ack/w1%00", {"by": "carol"}, "ref"),
        ("/ack/w%E2%80%8B1", {"by": "carol"}, "ref"),  # zero-width space
        ("/ack/w%E2%80%AE1", {"by": "carol"}, "ref"),  # right-to-left override
        ("/ack/3f9c0a1b2c4d", {"by": "car\x00ol"}, "by"),
        ("/ack/3f9c0a1b2c4d", {"by": "car\u202eol"}, "by"),
        ("/resolve/3f9c0a1b2c4d", {"by": "car\u200dol"}, "by"),
        ("/resolve/3f9c0a1b2c4d", {"by": "c" * 65}, "by"),
        ("/resolve/3f9c0a1b2c4d", {"by": ["carol"]}, "by"),
        ("/silences", {"by": "carol", "matchers": ['team="x\u2066"']}, "matchers[0]"),
        ("/silences", {"by": "carol", "matchers": ['team="x"'], "comment": "a\u200bb"}, "comment"),
    ],
)
def test_hidden_characters_and_overlong_fields_are_refused_naming_the_field(
    guarded: Served, path: str, body: dict[str, Any], field: str
) -> None:
    before = guarded.state()
    sent = requests.post(guarded.base + path, json=body, headers=AUTH, timeout=10)
    assert sent.status_code == 400, sent.text
    assert sent.json()["error"].startswith(f"{field}:"), sent.json()
    assert guarded.state() == before


def test_an_oversized_body_is_refused_whole(guarded: Served) -> None:
    sent = requests.post(
        f"{guarded.base}/silences", json={"by": "c" * 100_000}, headers=AUTH, timeout=10
    )
    assert sent.status_code == 413 and "error" in sent.json()
