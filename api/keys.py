"""API keys for integrations: created, listed and revoked by `loanwatch api-key ...`.

A key is shown once, at creation: ``lwk_<key id>_<secret>``. Redis keeps only the
SHA-256 of the secret, beside its id, name, role and team, in one hash
(``<prefix>api:keys``): a copy of Redis gives no usable key. SHA-256 without a salt
or a slow hash is enough here because the secret is 256 random bits, not a password
a person chose; a slow hash would cost every request its time. Verifying is one
``HGET`` and a constant-time comparison.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from api.exceptions import ApiKeyError
from api.roles import Role

__all__ = ["ApiKey", "KeyStore", "Principal", "check_record", "parse_token"]

_TOKEN = re.compile(r"lwk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: the audit trail's "who" and the grants' role."""

    subject: str  # "key:<id>" for an API key, "oidc:<sub>" for a staff token
    name: str
    role: Role
    team: str | None = None
    rate_per_minute: int | None = None
    """This caller's own request limit; None: the setting's (``api.rate_per_minute``)."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One stored key, without its secret."""

    key_id: str
    name: str
    role: Role
    team: str | None
    created_at: str
    revoked_at: str | None = None
    rate_per_minute: int | None = None

    def principal(self) -> Principal:
        return Principal(
            f"key:{self.key_id}", self.name, self.role, self.team, self.rate_per_minute
        )


class KeyStore:
    """The keys in Redis (a sync ``redis-py`` client), under ``<prefix>api:keys``."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.hash = f"{prefix}api:keys"

    def create(
        self,
        name: str,
        role: Role,
        team: str | None = None,
        *,
        rate_per_minute: int | None = None,
        now: datetime | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key and its token; the token is returned here and never again."""
        if not _NAME.fullmatch(name):
            raise ApiKeyError(
                "name: 1-64 letters, digits, spaces or ._@- (starting with a letter or digit)"
            )
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        if rate_per_minute is not None and rate_per_minute < 1:
            raise ApiKeyError("rate_per_minute: at least 1 (leave it out for the default)")
        created = (now or datetime.now(UTC)).isoformat()
        key = ApiKey(key_id, name, role, team, created, rate_per_minute=rate_per_minute)
        record = {**asdict(key), "role": role.value, "sha256": _digest(secret)}
        self.client.hset(self.hash, key_id, orjson.dumps(record))
        return key, f"lwk_{key_id}_{secret}"

    def list(self) -> list[ApiKey]:
        """Every key, revoked ones too (the audit trail names them), oldest first."""
        keys = [_key(orjson.loads(raw)) for raw in self.client.hvals(self.hash)]
        return sorted(keys, key=lambda k: (k.created_at, k.key_id))

    def revoke(self, key_id: str, *, now: datetime | None = None) -> ApiKey:
        """Mark a key revoked (kept, so the audit trail still resolves its id)."""
        raw = self.client.hget(self.hash, key_id)
        if raw is None:
            raise ApiKeyError(f"key_id: no API key {key_id!r} (see `loanwatch api-key list`)")
        record = orjson.loads(raw)
        if record.get("revoked_at") is None:
            record["revoked_at"] = (now or datetime.now(UTC)).isoformat()
            self.client.hset(self.hash, key_id, orjson.dumps(record))
        return _key(record)

    def verify(self, token: str) -> tuple[Principal | None, str]:
        """The key's principal, or None and why not (for the 401 and the audit row)."""
        parsed = parse_token(token)
        if isinstance(parsed, str):
            return None, parsed
        key_id, secret = parsed
        return check_record(self.client.hget(self.hash, key_id), secret)


def parse_token(token: str) -> tuple[str, str] | str:
    """``(key id, secret)`` of a well-formed token, else why it is not one."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        return "not an API key (lwk_<id>_<secret>)"
    return match.group(1), match.group(2)


def check_record(raw: bytes | str | None, secret: str) -> tuple[Principal | None, str]:
    """Whether ``secret`` opens the stored key ``raw`` (None: no such key), and as whom.

    Apart from the read so the asyncio server checks keys with the same code as `verify`.
    """
    if raw is None:
        return None, "unknown API key"
    record = orjson.loads(raw)
    if not hmac.compare_digest(record["sha256"], _digest(secret)):
        return None, "wrong secret for this API key"
    if record.get("revoked_at"):
        return None, f"API key revoked at {record['revoked_at']}"
    return _key(record).principal(), ""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _key(record: dict[str, Any]) -> ApiKey:
    return ApiKey(
        key_id=record["key_id"],
        name=record["name"],
        role=Role(record["role"]),
        team=record.get("team"),
        created_at=record["created_at"],
        revoked_at=record.get("revoked_at"),
        rate_per_minute=record.get("rate_per_minute"),
    )
