"""Alert channels: one small base, apprise for almost everything, our own DingTalk robot.

apprise already speaks JSON webhooks (``json://``), Slack (``slack://``), WeCom group
robots (``wecombot://``), Feishu (``feishu://``), Lark (``lark://``) and SMTP
(``mailto://``), so those are one `AppriseChannel` per URL. DingTalk is ours because
apprise's plugin posts to a fixed host (no proxy, no test receiver) and sends
``atMobiles`` without the ``@mobile`` text DingTalk needs to actually ping someone.

`RateWindow` is the per-receiver limit (DingTalk: about 20 messages a minute per
robot); the service queues and batches above it instead of dropping.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from sinks.alerts.exceptions import DeliveryError
from sinks.alerts.render import Message

__all__ = [
    "AppriseChannel",
    "Channel",
    "DingTalkChannel",
    "RateWindow",
    "channels_for",
    "dingtalk_sign",
]


class Channel(ABC):
    """Sends one rendered message; raises `DeliveryError` when it was not taken."""

    name: str = "channel"

    @abstractmethod
    def send(self, message: Message) -> None: ...


class AppriseChannel(Channel):
    """Any apprise URL; its name for logs keeps the scheme and host, never the tokens.

    Timeouts are apprise's (4 s), or the URL's own ``?cto=`` / ``?rto=`` arguments.
    """

    def __init__(self, url: str) -> None:
        import apprise

        self._apprise = apprise.Apprise()
        if not self._apprise.add(url):
            raise DeliveryError(f"apprise does not understand the URL {_private(url)!r}")
        self.name = _private(url)

    def send(self, message: Message) -> None:
        import apprise

        kind = {
            "resolved": apprise.NotifyType.SUCCESS,
            "repeat": apprise.NotifyType.WARNING,
        }.get(message.kind, apprise.NotifyType.FAILURE)
        ok = self._apprise.notify(
            body=message.body,
            title=message.title,
            notify_type=kind,
            body_format=apprise.NotifyFormat.MARKDOWN,
        )
        if not ok:
            raise DeliveryError(f"{self.name} refused the message")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's robot signature: base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")).

    >>> dingtalk_sign("SEC000", 1700000000000)
    'ltBBey5eZrWKh1cPzFIdz3v3xpkc4Tjx4lLsPSHqdtA='
    """
    text = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), text, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingTalkChannel(Channel):
    """A DingTalk group robot: markdown, signed requests, @mentions by mobile.

    ``token`` is the robot's access token; ``secret`` (``SEC...``) turns on signing;
    ``at_mobiles`` are on-call staff's numbers to ping (staff, never borrowers);
    ``url`` is the API base, ``https://oapi.dingtalk.com`` unless a proxy is used.
    """

    def __init__(
        self,
        token: str,
        secret: str | None = None,
        at_mobiles: Sequence[str] = (),
        url: str = "https://oapi.dingtalk.com",
        timeout_s: float = 10.0,
    ) -> None:
        self.token = token
        self.secret = secret
        self.at_mobiles = tuple(str(m) for m in at_mobiles)
        self.base = url.rstrip("/")
        self.timeout_s = timeout_s
        self.name = f"dingtalk:{token[:4]}…"

    def request(self, message: Message, now_ms: int) -> tuple[str, dict[str, Any]]:
        """The URL and JSON body for a message (pure, for tests and for `send`)."""
        query = {"access_token": self.token}
        if self.secret:
            query["timestamp"] = str(now_ms)
            query["sign"] = dingtalk_sign(self.secret, now_ms)
        text = message.body
        if self.at_mobiles:
            # DingTalk pings only numbers that also appear as @number in the text.
            text += "\n\n" + " ".join(f"@{m}" for m in self.at_mobiles)
        body = {
            "msgtype": "markdown",
            "markdown": {"title": message.title, "text": f"#### {message.title}\n\n{text}"},
            "at": {"atMobiles": list(self.at_mobiles), "isAtAll": False},
        }
        return f"{self.base}/robot/send?{urllib.parse.urlencode(query)}", body

    def send(self, message: Message) -> None:
        import requests

        url, body = self.request(message, int(time.time() * 1000))
        try:
            reply = requests.post(url, json=body, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise DeliveryError(f"{self.name}: {type(exc).__name__}") from None
        if reply.status_code != 200:
            raise DeliveryError(f"{self.name}: HTTP {reply.status_code}")
        try:
            answer = reply.json()
        except ValueError:
            raise DeliveryError(f"{self.name}: reply is not JSON") from None
        if answer.get("errcode", 0) != 0:  # 130101: sending too fast
            raise DeliveryError(f"{self.name}: errcode {answer.get('errcode')}")


def channels_for(urls: Sequence[str], robots: Sequence[Mapping[str, Any]]) -> list[Channel]:
    """The channels of one receiver, in config order (the sent ledger indexes them)."""
    out: list[Channel] = [AppriseChannel(u) for u in urls]
    for robot in robots:
        out.append(
            DingTalkChannel(
                token=str(robot["token"]),
                secret=robot.get("secret"),
                at_mobiles=robot.get("at_mobiles", ()),
                url=str(robot.get("url", "https://oapi.dingtalk.com")),
            )
        )
    return out


class RateWindow:
    """At most ``limit`` sends in any ``period_s`` (a sliding window), time given by the caller.

    >>> w = RateWindow(2, 60.0)
    >>> w.record(0.0); w.record(1.0); w.allows(30.0), w.wait(30.0)
    (False, 30.0)
    """

    def __init__(self, limit: int, period_s: float) -> None:
        self.limit = limit
        self.period_s = period_s
        self._sent: deque[float] = deque()

    def _trim(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - self.period_s:
            self._sent.popleft()

    def allows(self, now: float) -> bool:
        self._trim(now)
        return len(self._sent) < self.limit

    def free(self, now: float) -> int:
        """How many more sends the window allows right now."""
        self._trim(now)
        return max(self.limit - len(self._sent), 0)

    def wait(self, now: float) -> float:
        self._trim(now)
        if len(self._sent) < self.limit:
            return 0.0
        return self._sent[0] + self.period_s - now

    def record(self, now: float) -> None:
        self._sent.append(now)


def _private(url: str) -> str:
    """A URL fit for a log line: the host for webhooks and mail, only the scheme for robots
    (whose "host" part is the token)."""
    scheme, _, rest = url.partition("://")
    if scheme not in ("json", "jsons", "mailto", "mailtos"):
        return f"{scheme}://…"
    host = urllib.parse.urlsplit(f"x://{rest}").hostname or ""
    return f"{scheme}://{host}/…"
