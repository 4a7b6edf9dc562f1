"""Staff tokens: JWTs from an OIDC issuer whose keys a loopback JWKS server publishes.

The tests mint their own RSA keys; each case is a token a real attacker or a real
misconfiguration would produce.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
import requests
from clickhouse_driver import Client
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from test_clickhouse_writer import free_port

from api.backends import Backends
from api.server import Running, serve_in_thread
from config import Settings
from sinks.clickhouse.dialect import ServerFeatures
from sinks.clickhouse.migrations import apply_migrations

ISSUER = "https://idp.example/realms/bank"
KID = "k1"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def serve_loopback(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """``handler`` served on a free loopback port in a daemon thread, and its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class Jwks:
    """A JWKS endpoint on loopback publishing one public key."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        body = json.dumps({"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None: ...

        self.server, base = serve_loopback(Handler)
        self.url = base + "/certs"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def signer() -> rsa.RSAPrivateKey:
    return _key()


@pytest.fixture
def api(
    settings: Settings, signer: rsa.RSAPrivateKey, redis_prefix: str, clickhouse: Client
) -> Iterator[Running]:
    database = clickhouse.execute("SELECT currentDatabase()")[0][0]
    apply_migrations(clickhouse, ServerFeatures.of(clickhouse), database)
    jwks = Jwks(signer)
    local = settings.model_copy(
        update={
            "api": settings.api.model_copy(
                update={"port": free_port(), "oidc_issuer": ISSUER, "oidc_jwks_url": jwks.url}
            )
        }
    )
    running = serve_in_thread(Backends.from_settings(local, prefix=redis_prefix, database=database))
    try:
        yield running
    finally:
        running.stop()
        jwks.close()


def token(key: Any, alg: str = "RS256", kid: str = KID, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER, "aud": "loanwatch-api", "sub": "u-17", "iat": now, "exp": now + 300,
        "preferred_username": "alice", "loanwatch_role": ["viewer"],
    }  # fmt: skip
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def get(api: Running, path: str, bearer: str) -> requests.Response:
    return requests.get(api.url + path, headers={"Authorization": f"Bearer {bearer}"}, timeout=15)


def test_a_staff_token_acts_with_its_role_and_team_and_is_audited_as_its_subject(
    api: Running, signer: rsa.RSAPrivateKey, clickhouse: Client
) -> None:
    assert get(api, "/v1/top-risk", token(signer)).status_code == 200
    denied = requests.post(
        api.url + "/v1/alerts/w1/ack",
        headers={"Authorization": f"Bearer {token(signer)}"},
        timeout=15,
    )
    assert denied.status_code == 403 and "role viewer" in denied.json()["detail"]
    admin = token(signer, loanwatch_role=["viewer", "risk-admin"], team="reviews")
    scoped = get(api, "/v1/warnings?team=collections", admin)
    assert scoped.status_code == 403 and scoped.json()["errors"][0]["field"] == "team"
    api.audit.flush()  # type: ignore[union-attr]
    rows = clickhouse.execute(
        "SELECT subject, name, role, status FROM api_audit ORDER BY status, role"
    )
    assert rows == [
        ("oidc:u-17", "alice", "viewer", 200),
        ("oidc:u-17", "alice", "risk-admin", 403),
        ("oidc:u-17", "alice", "viewer", 403),
    ]


def test_expired_forged_misaddressed_and_unsigned_tokens_are_refused(
    api: Running, signer: rsa.RSAPrivateKey
) -> None:
    other = _key()
    public_pem = signer.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    unsigned = jwt.encode({"iss": ISSUER, "sub": "x"}, None, algorithm="none")
    cases = {
        "expired": (token(signer, exp=int(time.time()) - 120), "token expired"),
        "forged": (token(other), "signature does not verify"),
        "unknown key": (token(other, kid="k9"), "does not publish"),
        "audience": (token(signer, aud="another-app"), "not for audience loanwatch-api"),
        "issuer": (token(signer, iss="https://evil.example"), "not from issuer"),
        "no role": (token(signer, loanwatch_role=["auditor"]), "names no Loanwatch role"),
        "no subject": (token(signer, sub=None), "token refused"),
        "unsigned": (unsigned, "algorithm 'none' is not accepted"),
        "hs256 with the public key": (_hs256(public_pem), "algorithm 'HS256' is not accepted"),
        "garbage": ("not.a.jwt", "neither an API key nor a JWT"),
    }
    for name, (bearer, says) in cases.items():
        response = get(api, "/v1/top-risk", bearer)
        assert response.status_code == 401, (name, response.text)
        assert says in response.json()["detail"], (name, response.json())


def _hs256(secret: bytes) -> str:
    """An HS256 token whose secret is the public key: the classic algorithm confusion."""
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    now = int(time.time())
    body = b64(json.dumps({"iss": ISSUER, "aud": "loanwatch-api", "sub": "x", "exp": now + 60,
                           "loanwatch_role": "risk-admin"}).encode())  # fmt: skip
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"
