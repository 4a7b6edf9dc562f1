"""Telling the user that a service cannot be reached: one line, saying what happens next.

A one-shot command (``db migrate``, ``lookup``, ``alerts ack``, ``simulate``) that
cannot reach Kafka, Redis or ClickHouse raises `ServiceUnavailable`; the CLI prints
its one line and exits with `EXIT_UNAVAILABLE`. A long-running command (the worker,
the sinks, ``alerts run``) keeps retrying with backoff and says so through an
`Outage`: once when the service goes away, again at most once a minute while it
stays away, once when it is back.

librdkafka logs every refused connection itself (to stderr, about twenty lines a
second); `kafka_client_hooks` sends those lines through Python logging instead,
with connection failures at DEBUG because the `Outage` already reports them.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final, Protocol
from urllib.parse import urlsplit, urlunsplit

from config.errors import ServiceUnavailable

__all__ = [
    "EXIT_UNAVAILABLE",
    "REPORT_EVERY_S",
    "KafkaClientLog",
    "Outage",
    "Reports",
    "clickhouse_errors",
    "exits_when_unreachable",
    "kafka_client_hooks",
    "redis_address",
    "redis_errors",
    "short_reason",
]

EXIT_UNAVAILABLE: Final = 69
"""A one-shot command's exit code when a service cannot be reached (sysexits' EX_UNAVAILABLE)."""
REPORT_EVERY_S: Final = 60.0
"""While a service stays unreachable, a long-running command says so this often."""

log = logging.getLogger("loanwatch.outage")

# librdkafka facilities of a connection that failed or went down: the error callback
# reports those (through an `Outage`), so their log lines are only for --verbose.
_CONNECTION_FACILITIES: Final = frozenset({"FAIL", "BROKERFAIL", "ERROR", "DISCONNECT"})
_CLICKHOUSE_CODE: Final = re.compile(r"^Code: \d+\. | \([^ ()]+:\d+\)$")


def short_reason(exc: BaseException | str) -> str:
    """The first line of an error, without librdkafka's ``host:port/bootstrap: ...`` preamble.

    >>> short_reason("127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: "
    ...              "Connection refused (after 0ms in state CONNECT)")
    'Connection refused'
    >>> short_reason(ConnectionRefusedError(111, "Connection refused"))
    'Connection refused'
    >>> short_reason("Code: 210. Connection refused (127.0.0.1:9000)")
    'Connection refused'
    """
    if isinstance(exc, BaseException):
        cause = _os_cause(exc)
        if cause is not None:
            return cause
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if " failed: " in text:
        text = text.rsplit(" failed: ", 1)[1]
    if text.endswith(")") and " (after " in text:
        text = text.rsplit(" (after ", 1)[0]
    text = _CLICKHOUSE_CODE.sub("", text)  # clickhouse-driver: "Code: 210. ... (host:port)"
    return text[:200]


def _os_cause(exc: BaseException) -> str | None:
    """The operating system's words for the failure (``Connection refused``), if the
    client library kept the `OSError` it wrapped (redis-py and clickhouse-driver do)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        current = current.__cause__ or current.__context__
    return None


class Reports(Protocol):
    """Where a client's failed attempts go: an `Outage`, or something that judges them first."""

    def failed(self, reason: str) -> None: ...


class Outage:
    """One service's outage as a long-running command reports it.

    >>> lines, now = [], [0.0]
    >>> outage = Outage("Kafka", "k1:9092", say=lines.append, clock=lambda: now[0])
    >>> outage.failed("Connection refused"); now[0] = 30.0; outage.failed("Connection refused")
    >>> now[0] = 61.0; outage.failed("Connection refused"); outage.recovered()
    >>> len(lines)
    3
    >>> print(lines[0])  # doctest: +NORMALIZE_WHITESPACE
    cannot reach Kafka at k1:9092 (Connection refused); retrying with backoff, reporting once a
    minute until it answers
    >>> lines[2]
    'Kafka at k1:9092 answers again after 61 s'
    """

    def __init__(
        self,
        service: str,
        address: str,
        *,
        say: Callable[[str], None] | None = None,
        every_s: float = REPORT_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.address = address
        self._say = say or log.warning
        self._every_s = every_s
        self._clock = clock
        self._since: float | None = None
        self._last_said = 0.0

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, reason: str) -> None:
        """One failed attempt: said the first time, then at most once per ``every_s``."""
        now = self._clock()
        if self._since is None:
            self._since = self._last_said = now
            self._say(
                f"cannot reach {self.service} at {self.address} ({reason}); "
                "retrying with backoff, reporting once a minute until it answers"
            )
        elif now - self._last_said >= self._every_s:
            self._last_said = now
            self._say(
                f"still cannot reach {self.service} at {self.address} ({reason}) "
                f"after {now - self._since:.0f} s; still retrying"
            )

    def recovered(self) -> None:
        """The service answered: said once, if it had been away."""
        if self._since is not None:
            self._say(
                f"{self.service} at {self.address} answers again "
                f"after {self._clock() - self._since:.0f} s"
            )
            self._since = None


@contextmanager
def exits_when_unreachable(
    service: str, address: str, errors: tuple[type[BaseException], ...]
) -> Iterator[None]:
    """Turn a client's connection errors into `ServiceUnavailable` naming the service.

    >>> with exits_when_unreachable("Redis", "redis://r:6379/0", (OSError,)):  # doctest: +ELLIPSIS
    ...     raise ConnectionRefusedError(111, "Connection refused")
    Traceback (most recent call last):
    ...
    config.errors.ServiceUnavailable: cannot reach Redis at redis://r:6379/0 (...); exiting
    """
    try:
        yield
    except errors as exc:
        raise ServiceUnavailable(service, address, short_reason(exc)) from exc


def redis_errors() -> tuple[type[BaseException], ...]:
    """What redis-py raises when the server cannot be reached or does not answer in time."""
    from redis.exceptions import ConnectionError, TimeoutError

    return (ConnectionError, TimeoutError)


def clickhouse_errors() -> tuple[type[BaseException], ...]:
    """What clickhouse-driver raises when the server cannot be reached."""
    from clickhouse_driver.errors import NetworkError, SocketTimeoutError

    return (NetworkError, SocketTimeoutError, ConnectionError)


def redis_address(url: str) -> str:
    """A Redis URL fit to print: any password in it is masked.

    >>> redis_address("rediss://app:s3cret@cache:6380/0")
    'rediss://app:***@cache:6380/0'
    >>> redis_address("redis://127.0.0.1:6379/0")
    'redis://127.0.0.1:6379/0'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class KafkaClientLog:
    """librdkafka's log lines into Python logging (logger ``librdkafka``).

    confluent-kafka calls ``log(level, "%s [%s] %s", facility, client, message)``.
    A connection failure is logged at DEBUG: the client's error callback reports it
    through an `Outage`, once a minute rather than twenty times a second.
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("librdkafka")

    def log(self, level: int, msg: str, *args: Any) -> None:
        facility = args[0] if args else ""
        if facility in _CONNECTION_FACILITIES:
            level = logging.DEBUG
        self.logger.log(level, msg, *args)


def kafka_client_hooks(bootstrap_servers: str, outage: Reports | None = None) -> dict[str, Any]:
    """confluent-kafka settings that route its logs and connection errors to us.

    Connection errors (``_TRANSPORT``, ``_ALL_BROKERS_DOWN``) go to ``outage`` (an
    `Outage` is made for ``bootstrap_servers`` when not given); other errors are logged
    as warnings. Callbacks run inside ``poll``/``consume``/``flush``.
    """
    from confluent_kafka import KafkaError

    report: Reports = outage or Outage("Kafka", bootstrap_servers)
    down = {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE}

    def on_error(error: Any) -> None:
        if error.code() in down:
            report.failed(short_reason(error.str()))
        else:
            logging.getLogger("librdkafka").warning("kafka: %s", error.str())

    return {"logger": KafkaClientLog(), "error_cb": on_error}
