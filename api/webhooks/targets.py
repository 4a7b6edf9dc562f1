"""Where a webhook may point: not into the network the service runs in.

A subscription names any URL, and the delivery service POSTs to it from inside
the deployment, next to Redis, ClickHouse and Kafka: without a check an API key
could make it call ``http://127.0.0.1:6379`` or a cloud metadata address. Hosts
that resolve to a loopback, private, link-local, multicast, reserved or
unspecified address are refused, at subscription and again before each delivery
(the name may resolve elsewhere by then), unless
``LOANWATCH_API__WEBHOOK_PRIVATE_TARGETS`` allows them (receivers on one's own
network, tests).

>>> refusal("http://127.0.0.1:6379/", allow_private=False, resolve=lambda h: ["127.0.0.1"])
'127.0.0.1 is a loopback address'
>>> refusal("https://crm.example/hook", allow_private=False, resolve=lambda h: ["93.184.216.34"])
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

__all__ = ["refusal", "resolve"]


def resolve(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})


def refusal(
    url: str, *, allow_private: bool, resolve: Callable[[str], Iterable[str]] = resolve
) -> str | None:
    """Why ``url`` may not be called, or None when it may."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "only http and https URLs with a host"
    if allow_private:
        return None
    try:
        addresses = list(resolve(parts.hostname))
    except OSError as exc:
        return f"{parts.hostname} does not resolve ({exc})"
    for text in addresses:
        address = ipaddress.ip_address(text.split("%")[0])
        for kind in ("loopback", "link_local", "unspecified", "multicast", "reserved", "private"):
            if getattr(address, f"is_{kind}"):
                return f"{text} is a {kind.replace('_', '-')} address"
    return None
