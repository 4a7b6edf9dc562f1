"""Kafka going away under a running worker: one line, not aiokafka's forty a second.

Before the worker starts, `streams.topics.wait_for_kafka` reports an unreachable
broker. Once it runs, its Kafka clients are Faust's (aiokafka, in the event loop
and the consumer's thread) and the rules feed's (librdkafka). When the broker goes
away they retry on their own, and aiokafka logs every failed attempt at ERROR,
about forty lines a second. Here:

- `ClientLogRouter` takes the records of `faust_seam.CLIENT_LOGGERS` before they
  reach the root logger's handlers. A failure to reach a broker is handed to the
  watch and logged at DEBUG; while Kafka is troubled (failing, reported down, or
  back for less than a minute) those loggers' other warnings are consequences of
  it (the coordinator marked dead, a commit timer held up) and go to DEBUG too.
  Everything else passes at its own level. ``--verbose`` shows the DEBUG lines.
- `KafkaWatch` turns the failures into an `Outage`, checked once a second in a
  thread of its own: reported once failed attempts have gone on for `CONFIRM_S`
  (one connection the broker closed, which the next attempt opens again, is no
  outage), again once a minute, and over once the clients have been quiet for
  `QUIET_S` and the broker answers a metadata request. The clients do their own
  retrying; nothing here holds up or replays the stream, so the worker goes on
  judging where it stood.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Final

from confluent_kafka.admin import AdminClient

from config import ServiceUnavailable, Settings
from config.outage import Outage
from streams import faust_seam
from streams.topics import admin_client, reach_kafka

__all__ = ["CONFIRM_S", "QUIET_S", "SETTLE_S", "ClientLogRouter", "KafkaWatch"]

log = logging.getLogger("loanwatch.worker")

CONFIRM_S: Final = 2.0
"""Failed attempts must go on this long before they are reported as an outage."""
QUIET_S: Final = 3.0
"""Seconds without a failed attempt after which the broker is asked whether it is back
(aiokafka retries every 100 ms while it is away)."""
SETTLE_S: Final = 60.0
"""After an outage, the clients' warnings stay at DEBUG this long (their timers and
commits held up by it are still returning)."""
_CHECK_EVERY_S: Final = 1.0


class KafkaWatch:
    """Failed attempts of the worker's Kafka clients, judged into one `Outage`.

    `failed` may be called from any thread; `check` runs in the watch's own.

    >>> lines, now, answers = [], [0.0], ["Connection refused"]
    >>> watch = KafkaWatch(
    ...     Outage("Kafka", "k1:9092", say=lines.append, clock=lambda: now[0]),
    ...     probe=lambda: answers[0], clock=lambda: now[0])
    >>> for tenth in range(30):  # aiokafka failing every 100 ms for 3 s
    ...     now[0] = tenth / 10; watch.failed("Connection refused"); watch.check()
    >>> answers[0] = None; now[0] = 20.0; watch.check()  # quiet, and the broker answers
    >>> lines  # doctest: +NORMALIZE_WHITESPACE
    ['cannot reach Kafka at k1:9092 (Connection refused); retrying with backoff,
      reporting once a minute until it answers', 'Kafka at k1:9092 answers again after 18 s']
    """

    def __init__(
        self,
        outage: Outage,
        probe: Callable[[], str | None],
        *,
        confirm_s: float = CONFIRM_S,
        quiet_s: float = QUIET_S,
        settle_s: float = SETTLE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.outage = outage
        self._probe = probe
        """Asks the broker: ``None`` when it answers, else why not (blocks)."""
        self._confirm_s = confirm_s
        self._quiet_s = quiet_s
        self._settle_s = settle_s
        self._clock = clock
        self._lock = threading.Lock()
        self._first: float | None = None  # the current run of failures: its first, its last
        self._last: float | None = None
        self._reason = ""
        self._back_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def of(cls, settings: Settings) -> KafkaWatch:
        """The watch of the configured brokers, reporting through ``loanwatch.outage``."""
        return cls(Outage("Kafka", settings.kafka.bootstrap_servers), _MetadataProbe(settings))

    def failed(self, reason: str) -> None:
        """A client's failed attempt (``reason`` may be empty): noted for `check`."""
        now = self._clock()
        with self._lock:
            if self._last is None or now - self._last >= self._quiet_s:
                self._first = now
            self._last = now
            if reason:
                self._reason = reason

    def troubled(self) -> bool:
        """True while attempts fail, while the outage stands, and `SETTLE_S` after it."""
        now = self._clock()
        last, back_at = self._last, self._back_at
        return (
            self.outage.down
            or (last is not None and now - last < self._quiet_s)
            or (back_at is not None and now - back_at < self._settle_s)
        )

    def check(self) -> None:
        """Report, repeat or end the outage from the failures noted so far."""
        now = self._clock()
        with self._lock:
            first, last, reason = self._first, self._last, self._reason
        if first is not None and last is not None and now - last < self._quiet_s:
            if self.outage.down or last - first >= self._confirm_s:
                self.outage.failed(reason or "no answer")
            return
        if not self.outage.down:
            return
        problem = self._probe()
        if problem is not None:
            self.outage.failed(problem)
            return
        self.outage.recovered()
        with self._lock:
            self._back_at = now
            self._reason = ""

    def start(self) -> None:
        """Route the clients' log records through this watch and check once a second."""
        ClientLogRouter(self).install()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="kafka-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(_CHECK_EVERY_S):
            try:
                self.check()
            except Exception as exc:  # noqa: BLE001 - the watch must outlive its own bugs
                log.error("kafka watch: %s: %s", type(exc).__name__, exc)
                log.debug("kafka watch failed", exc_info=True)


class ClientLogRouter(logging.Handler):
    """Records of the Kafka clients' loggers, judged before the root logger's handlers.

    Installed as the only way out of `faust_seam.CLIENT_LOGGERS` (they no longer
    propagate): each record is passed on to the root logger, at DEBUG when it is
    a failure to reach a broker or a warning while Kafka is troubled.
    """

    def __init__(
        self, watch: KafkaWatch, loggers: Sequence[str] = faust_seam.CLIENT_LOGGERS
    ) -> None:
        super().__init__()
        self.watch = watch
        self.loggers = tuple(loggers)

    def install(self) -> None:
        """Put this router in front of the loggers (a router already there is replaced)."""
        for name in self.loggers:
            logger = logging.getLogger(name)
            for old in [h for h in logger.handlers if isinstance(h, ClientLogRouter)]:
                logger.removeHandler(old)
            logger.addHandler(self)
            logger.propagate = False

    def emit(self, record: logging.LogRecord) -> None:
        reason = faust_seam.connection_failure(record)
        if reason is not None:
            self.watch.failed(reason)
            _demote(record)
        elif record.levelno >= logging.WARNING and self.watch.troubled():
            _demote(record)
        root = logging.getLogger()
        if root.isEnabledFor(record.levelno):
            root.handle(record)


def _demote(record: logging.LogRecord) -> None:
    record.levelno = logging.DEBUG
    record.levelname = logging.getLevelName(logging.DEBUG)


class _Unreported:
    """The probe's own client reports nothing: its failure is the probe's answer."""

    def failed(self, reason: str) -> None:
        pass


class _MetadataProbe:
    """Asks the brokers for their topic list with a client of its own (made on first use)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._admin: AdminClient | None = None

    def __call__(self) -> str | None:
        if self._admin is None:
            self._admin = admin_client(self._settings, _Unreported())
        try:
            reach_kafka(self._settings, self._admin)
        except ServiceUnavailable as exc:
            return exc.reason
        finally:
            self._admin.poll(0)  # serve its queued log lines
        return None
