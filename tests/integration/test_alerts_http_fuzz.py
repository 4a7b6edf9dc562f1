"""Property tests of the ack endpoint: random requests never get a 5xx or change state unasked.

Each case is one raw HTTP/1.1 request (random method, path, headers and a JSON, form
or garbage body, with and without the credential) sent over a socket to a real server
on loopback over a real Redis store. Whatever the input: no 5xx; every 4xx is JSON
naming what was wrong; every response has the security headers; and the store changes
only when the request carried the credential (token mode) or came from no other site
(local-only). A request aiohttp's HTTP parser refuses (an unknown method) never
reaches the application; it is only held to no 5xx and no change. A case is stored
as ``<mode>\\n<raw request>`` (``@HOST@`` stands for the server's address), the form
`fuzz_corpus` keeps and replays.
"""

from __future__ import annotations

import http.client
import socket
import string
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_alerts_http import TOKEN, Served
from test_clickhouse_writer import free_port

from config import Settings
from sinks.alerts.access import Access
from sinks.alerts.http import SECURITY_HEADERS

TARGET = "alerts_http"
HOST = b"@HOST@"


@pytest.fixture(scope="module")
def servers(stack: object, settings: Settings) -> Iterator[dict[str, Served]]:
    both = {
        "token": Served(settings, Access.with_token(TOKEN), f"test:fuzz-{free_port()}:"),
        "local": Served(settings, Access.local(), f"test:fuzz-local-{free_port()}:"),
    }
    yield both
    for served in both.values():
        served.close()


# -- the requests -----------------------------------------------------------------------

_VISIBLE = st.text(alphabet=string.printable.strip() + " ", max_size=40)
_ANY_TEXT = st.text(max_size=40)
_SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | _ANY_TEXT
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4), max_leaves=8)
_DURATIONS = (
    st.sampled_from(["1h", "30m", "90d", "91d", "99999999999h", "1e9", "-1s", ""]) | _VALUES
)
_MATCHERS = st.lists(
    st.sampled_from(['team="x"', 'rule=~"dpd_.*"', "team~x", 'a=~"("']) | _ANY_TEXT, max_size=25
)
_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "by": st.sampled_from(["alice", "", " "]) | _ANY_TEXT | _VALUES,
        "matchers": _MATCHERS | _VALUES,
        "duration": _DURATIONS,
        "comment": _ANY_TEXT | _VALUES,
        "token": st.sampled_from([TOKEN, "guess"]) | _ANY_TEXT,
        "csrf": st.sampled_from(["1.ab", "99999999999.00"]) | _ANY_TEXT,
    },
)
_BODIES = st.one_of(
    st.just(b""),
    _FIELDS.map(orjson.dumps),
    _VALUES.map(lambda v: orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS)),
    _FIELDS.map(lambda f: urlencode({k: str(v) for k, v in f.items()}).encode()),
    st.binary(max_size=300),
    st.integers(0, 40_000).map(lambda n: b'{"by": "' + b"a" * n + b'"}'),
)
_PATHS = st.builds(
    lambda head, tail: head + quote(tail, safe="/"),
    st.sampled_from(["/alerts", "/ack/", "/resolve/", "/silences", "/", "/ack/3f9c0a1b2c4d"]),
    st.binary(max_size=30),
)
_METHODS = st.sampled_from(
    ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "PROPFIND", "PURGE"]
) | st.text(alphabet=string.ascii_uppercase, min_size=1, max_size=7)
_HEADER_CHOICES: dict[str, Any] = {
    "Content-Type": st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain",
         "multipart/form-data; boundary=x", "application/json; charset=latin-1", ";;=", ""]
    ) | _VISIBLE,
    "Authorization": st.sampled_from(
        [f"Bearer {TOKEN}", "Bearer guess", "Basic dG9rZW4=", "Bearer", ""]
    ) | _VISIBLE,
    "Origin": st.sampled_from(["http://@HOST@", "https://evil.example", "null"]) | _VISIBLE,
    "Sec-Fetch-Site": st.sampled_from(["same-origin", "none", "cross-site", "same-site"]),
    "Cookie": st.sampled_from(["lw_csrf=" + "a" * 32, "lw_csrf=", "=;;"]) | _VISIBLE,
    "Host": st.sampled_from(["@HOST@", "evil.example", "[::1]:1", "localhost"]),
    "X-Anything": _VISIBLE,
}  # fmt: skip
_HEADERS = st.fixed_dictionaries({}, optional=_HEADER_CHOICES)


@st.composite
def requests_(draw: st.DrawFn) -> bytes:
    """One case: ``<mode>\\n`` and the raw request."""
    mode = draw(st.sampled_from(["token", "local"]))
    method = draw(_METHODS)
    headers = {"Host": "@HOST@", **draw(_HEADERS)}
    body = draw(_BODIES) if method not in ("GET", "HEAD") or draw(st.booleans()) else b""
    head = [f"{method} {draw(_PATHS)} HTTP/1.1"]
    head += [f"{name}: {value.strip()}" for name, value in headers.items()]
    head += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return f"{mode}\n".encode() + "\r\n".join(head).encode() + body


# -- the check --------------------------------------------------------------------------


def headers_of(raw: bytes) -> dict[str, str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {name.lower(): value.strip() for name, _, value in (h.partition(":") for h in head)}


def may_change_state(mode: str, raw: bytes) -> bool:
    """Whether the request could legitimately act: it holds the credential, or (local-only)
    a tool on this machine sent it: no other site's marks and a loopback Host."""
    headers = headers_of(raw)
    if mode == "token":
        return headers.get("authorization", "").split(" ")[-1] == TOKEN
    return (
        headers.get("origin", "http://@HOST@") == "http://@HOST@"
        and headers.get("sec-fetch-site", "none") in ("none", "same-origin")
        and headers.get("host") in ("@HOST@", "localhost")
    )


def send(port: int, raw: bytes) -> tuple[http.client.HTTPResponse, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(raw.replace(HOST, f"127.0.0.1:{port}".encode()))
        response = http.client.HTTPResponse(sock, method=raw.split(b" ", 1)[0].decode())
        response.begin()
        return response, response.read()


def check(servers: dict[str, Served], case: bytes) -> None:
    mode, _, raw = case.partition(b"\n")
    served = servers[mode.decode()]
    before = served.state()
    response, body = send(served.port, raw)
    assert response.status < 500, (response.status, body[:300])
    if not may_change_state(mode.decode(), raw):
        assert served.state() == before, "changed the store without the credential"
    if response.status == 400 and response.getheader("Content-Type", "").startswith("text/plain"):
        return  # aiohttp's HTTP parser refused the request line (an unknown method): no app
    for name, value in SECURITY_HEADERS.items():
        assert response.getheader(name) == value, name
    if response.status >= 400 and body:
        error = orjson.loads(body)["error"]
        assert isinstance(error, str) and ":" in error, error


@pytest.mark.fuzz
@given(case=requests_())
def test_no_request_gets_a_5xx_or_acts_without_the_credential(
    servers: dict[str, Served], fuzz_corpus: Any, case: bytes
) -> None:
    with fuzz_corpus.watch(TARGET, case):
        check(servers, case)


@pytest.mark.fuzz
def test_kept_requests_stay_answered(servers: dict[str, Served], fuzz_corpus: Any) -> None:
    for name, case in fuzz_corpus.cases(TARGET):
        try:
            check(servers, case)
        except AssertionError as exc:
            raise AssertionError(f"tests/fuzz_corpus/{TARGET}/{name}: {exc}") from exc
