"""Where a worker's rule pack comes from, and how a new one replaces it live.

Packs arrive on the compacted control topic (``risk.rules``, one partition,
latest value wins) and, for local runs, from a YAML file whose changes are
picked up. Every worker must see every pack, so the topic is read by a plain
consumer outside the consumer group (assign, from the beginning), in a thread.
A pack that fails to load is logged with its errors and ignored: the worker
keeps judging with the pack it has.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from config import Settings
from config.outage import Reports, kafka_client_hooks
from rules import RulesError
from rules.pack import RulePack, load_pack, load_pack_text

__all__ = ["FileWatcher", "TopicFeed"]

log = logging.getLogger("loanwatch.rules")


class TopicFeed:
    """Follows the rules control topic and calls ``on_pack`` with each valid pack."""

    def __init__(
        self,
        settings: Settings,
        on_pack: Callable[[RulePack], None],
        outage: Reports | None = None,
    ) -> None:
        self._settings = settings
        self._on_pack = on_pack
        self._outage = outage
        """Where its client's connection failures go (the worker's `KafkaWatch`)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rules-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        topic = self._settings.topics.rules
        kafka = self._settings.kafka
        consumer = Consumer(
            {
                **kafka.confluent_config(),
                **kafka_client_hooks(kafka.bootstrap_servers, self._outage),
                "group.id": f"{self._settings.app_id}-rules-feed",  # never commits
                "enable.auto.commit": False,
                "log_level": 3,
            }
        )
        consumer.assign([TopicPartition(topic, 0, -2)])  # -2: from the beginning
        try:
            while not self._stop.is_set():
                msg = consumer.poll(0.5)
                value = msg.value() if msg is not None and msg.error() is None else None
                if msg is None or not value:
                    continue
                source = f"{topic}@{msg.offset()}"
                try:
                    pack = load_pack_text(value.decode("utf-8"), source=source)
                except (RulesError, UnicodeDecodeError) as exc:
                    log.error("rule pack rejected source=%s error=%s", source, exc)
                    continue
                except Exception as exc:  # noqa: BLE001 - a loader bug must not end the feed
                    _loader_failed(source, exc)
                    continue
                self._on_pack(pack)
        finally:
            consumer.close()


class FileWatcher:
    """Reloads a rule pack file when its modification time changes."""

    def __init__(self, path: Path, on_pack: Callable[[RulePack], None]) -> None:
        self.path = path
        self._on_pack = on_pack
        self._mtime = self._stat()

    def _stat(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    def check(self) -> bool:
        """Reload if the file changed; True when a new pack was installed."""
        mtime = self._stat()
        if mtime == self._mtime:
            return False
        self._mtime = mtime
        try:
            pack = load_pack(self.path)
        except (RulesError, OSError) as exc:
            log.error("rule pack rejected source=%s error=%s", self.path, exc)
            return False
        except Exception as exc:  # noqa: BLE001 - a loader bug must not stop the clock
            _loader_failed(str(self.path), exc)
            return False
        self._on_pack(pack)
        return True


def _loader_failed(source: str, exc: Exception) -> None:
    """A pack the loader should have refused with a reason, and raised on instead.

    The worker keeps judging with its current pack; the line says so, and the
    traceback follows at debug level for whoever fixes the loader.
    """
    log.error(
        "rule pack rejected source=%s error=the loader failed (%s: %s); the current pack stays",
        source,
        type(exc).__name__,
        exc,
    )
    log.debug("rule pack loader traceback", exc_info=exc)
