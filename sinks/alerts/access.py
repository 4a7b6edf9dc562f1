"""Who may use the ack endpoint, and how its browser form proves it came from our own page.

The endpoint (`sinks.alerts.http`) runs one of two ways, and refuses to start otherwise:

- **with a token** (``ALERTS__HTTP_TOKEN`` or ``ALERTS__HTTP_TOKEN_FILE``): every request
  carries ``Authorization: Bearer <token>``, except the ack form reached from a chat
  message's link, whose POST carries the token typed into its ``token`` field;
- **local-only** (``ALERTS__HTTP_LOCAL_ONLY`` or ``alerts run --local-only``): no token,
  bound to loopback, and a request must name a loopback ``Host`` (a DNS-rebound page
  names its own).

Either way a page on another site cannot act through the on-call person's browser:
browsers mark its requests (``Origin``, ``Sec-Fetch-Site``); a form POST needs a CSRF
token that only our own form page hands out, bound to a ``SameSite=Strict`` cookie; and
a JSON POST needs ``Content-Type: application/json``, which another site cannot send
without a CORS preflight this server never grants. This module decides; `http` does I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from config import ConfigError
from config.settings import AlertSettings

__all__ = [
    "CSRF_TTL_S",
    "Access",
    "csrf_token",
    "csrf_valid",
    "endpoint_access",
    "foreign_origin",
    "is_loopback",
    "loopback_host_header",
]

CSRF_TTL_S = 12 * 3600
"""How long an opened form stays usable: an on-call shift, not forever."""
SAME_SITE = frozenset({"same-origin", "none"})
"""``Sec-Fetch-Site`` values of our own page (``none``: typed or bookmarked by the user)."""


@dataclass(frozen=True, slots=True)
class Access:
    """The endpoint's credential (``token``) or ``local_only``; ``key`` signs CSRF tokens.

    ``origins`` are extra origins the form may be posted from: the public ``ack_url``
    when a proxy in front rewrites ``Host``.
    """

    token: str | None
    local_only: bool = False
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    origins: frozenset[str] = frozenset()

    @classmethod
    def with_token(cls, token: str, origins: Iterable[str] = ()) -> Access:
        """Token mode; the CSRF key derives from the token, so a standby accepts open forms."""
        key = hmac.new(token.encode(), b"loanwatch-alerts-csrf", hashlib.sha256).digest()
        return cls(token, False, key, frozenset(origins))

    @classmethod
    def local(cls, origins: Iterable[str] = ()) -> Access:
        return cls(None, True, origins=frozenset(origins))

    def token_ok(self, given: str) -> bool:
        """Constant-time comparison; always false in local-only mode (there is no token)."""
        if self.token is None:
            return False
        return hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode())


def endpoint_access(alerts: AlertSettings, *, local_only: bool, ack_url: str | None) -> Access:
    """The `Access` ``alerts run`` serves with, or one `ConfigError` line naming the setting.

    >>> endpoint_access(AlertSettings(), local_only=False, ack_url=None)
    Traceback (most recent call last):
    ...
    config.errors.ConfigError: invalid setting LOANWATCH_ALERTS__HTTP_TOKEN: the ack endpoint needs a token (or LOANWATCH_ALERTS__HTTP_TOKEN_FILE), or LOANWATCH_ALERTS__HTTP_LOCAL_ONLY=true / --local-only to serve loopback only; not started
    """  # noqa: E501 - a doctest's expected line cannot wrap
    origin = _origin_of(ack_url) if ack_url else None
    origins = [origin] if origin else []
    token = alerts.http_secret()
    if token is not None:
        return Access.with_token(token.get_secret_value(), origins)
    if not (local_only or alerts.http_local_only):
        raise ConfigError(
            "invalid setting LOANWATCH_ALERTS__HTTP_TOKEN: the ack endpoint needs a token "
            "(or LOANWATCH_ALERTS__HTTP_TOKEN_FILE), or LOANWATCH_ALERTS__HTTP_LOCAL_ONLY=true "
            "/ --local-only to serve loopback only; not started"
        )
    if not is_loopback(alerts.http_host):
        raise ConfigError(
            f"invalid setting LOANWATCH_ALERTS__HTTP_HOST: a local-only endpoint binds loopback "
            f"only (127.0.0.1, ::1, localhost), got {alerts.http_host!r}; set a token to serve "
            f"others; not started"
        )
    return Access.local(origins)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or name, no port) is this machine's loopback.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def loopback_host_header(value: str) -> bool:
    """Whether a ``Host`` header names loopback; a DNS-rebound page names its own domain.

    >>> loopback_host_header("127.0.0.1:8095"), loopback_host_header("[::1]:8095")
    (True, True)
    >>> loopback_host_header("evil.example:8095")
    False
    """
    if value.startswith("["):
        host = value[1:].partition("]")[0]
    else:
        host = value.rpartition(":")[0] if ":" in value else value
    return is_loopback(host)


def foreign_origin(
    origin: str | None, fetch_site: str | None, scheme: str, host: str, allowed: frozenset[str]
) -> str | None:
    """The header that shows a request came from another site's page, or ``None``.

    Tools (curl, scripts) send neither header and pass; a browser sends both on a POST.

    >>> foreign_origin("https://evil.example", None, "http", "127.0.0.1:8095", frozenset())
    'Origin'
    >>> foreign_origin(None, "cross-site", "http", "127.0.0.1:8095", frozenset())
    'Sec-Fetch-Site'
    >>> own = "127.0.0.1:8095"
    >>> foreign_origin(f"http://{own}", "same-origin", "http", own, frozenset()) is None
    True
    """
    if fetch_site is not None and fetch_site.strip().lower() not in SAME_SITE:
        return "Sec-Fetch-Site"
    if origin is not None and origin not in {f"{scheme}://{host}", *allowed}:
        return "Origin"
    return None


def csrf_token(key: bytes, nonce: str, path: str, now_s: float) -> str:
    """A form's CSRF token: valid for ``path`` and the browser holding ``nonce`` (its cookie).

    >>> token = csrf_token(b"k", "n1", "/ack/3f9c", 1000.0)
    >>> csrf_valid(b"k", "n1", "/ack/3f9c", token, 1001.0)
    True
    >>> csrf_valid(b"k", "n2", "/ack/3f9c", token, 1001.0)  # another browser's cookie
    False
    """
    expires = int(now_s + CSRF_TTL_S)
    return f"{expires}.{_mac(key, nonce, path, expires)}"


def csrf_valid(key: bytes, nonce: str, path: str, given: str, now_s: float) -> bool:
    expires_text, _, mac = given.partition(".")
    if not expires_text.isascii() or not expires_text.isdigit() or len(expires_text) > 12:
        return False
    expires = int(expires_text)
    if expires < now_s:
        return False
    return hmac.compare_digest(
        mac.encode("utf-8", "replace"), _mac(key, nonce, path, expires).encode()
    )


def _mac(key: bytes, nonce: str, path: str, expires: int) -> str:
    message = f"{nonce}|{path}|{expires}".encode("utf-8", "replace")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None
