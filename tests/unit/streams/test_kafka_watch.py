"""A broker that goes away under a running worker: one line, the clients' own at DEBUG.

The watch is driven by a fake clock and a fake probe; the router is fed records
shaped as aiokafka logs them (its message templates, its exceptions).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from aiokafka.errors import GroupCoordinatorNotAvailableError, NodeNotReadyError

from config.outage import Outage
from streams.faust_seam import connection_failure
from streams.kafka_watch import ClientLogRouter, KafkaWatch


class Rig:
    """A watch on a fake clock, a fake broker (the probe) and the lines it says."""

    def __init__(self) -> None:
        self.now = 0.0
        self.answer: str | None = "Connection refused"  # the probe's: None when it answers
        self.asked = 0
        self.lines: list[str] = []
        outage = Outage("Kafka", "k1:9092", say=self.lines.append, clock=self.clock)
        self.watch = KafkaWatch(outage, self.probe, clock=self.clock)

    def clock(self) -> float:
        return self.now

    def probe(self) -> str | None:
        self.asked += 1
        return self.answer

    def fail_for(self, seconds: float, reason: str = "x") -> None:
        """aiokafka failing every 100 ms, the watch checking every second."""
        end = self.now + seconds
        while self.now < end:
            self.watch.failed(reason)
            if round(self.now * 10) % 10 == 0:
                self.watch.check()
            self.now = round(self.now + 0.1, 1)

    def quiet_for(self, seconds: int) -> None:
        for _ in range(seconds):
            self.now += 1
            self.watch.check()


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_a_broker_away_for_two_minutes_is_one_line_then_one_a_minute_then_one_when_back(
    rig: Rig,
) -> None:
    rig.fail_for(130, "Connection refused")
    rig.answer = None
    rig.quiet_for(5)
    assert [line.split(" (")[0] for line in rig.lines] == [
        "cannot reach Kafka at k1:9092",
        "still cannot reach Kafka at k1:9092",
        "still cannot reach Kafka at k1:9092",
        "Kafka at k1:9092 answers again after 131 s",
    ]
    assert "retrying with backoff" in rig.lines[0]


def test_a_connection_closed_and_opened_again_at_the_next_attempt_is_no_outage(
    rig: Rig,
) -> None:
    rig.fail_for(0.3)  # three failed attempts, then the clients carry on
    rig.quiet_for(120)
    assert rig.lines == []
    assert rig.asked == 0  # nothing reported: nothing to ask the broker about


def test_clients_gone_quiet_while_the_broker_still_does_not_answer_keep_the_outage(
    rig: Rig,
) -> None:
    rig.fail_for(5)
    rig.quiet_for(30)
    assert len(rig.lines) == 1 and rig.watch.outage.down and rig.asked > 0
    rig.answer = None
    rig.quiet_for(1)
    assert not rig.watch.outage.down
    assert rig.lines[-1].startswith("Kafka at k1:9092 answers again")


def test_the_reason_is_the_latest_one_a_client_gave(rig: Rig) -> None:
    rig.watch.failed("Connection at k1:9092 closed")
    rig.fail_for(3, "")  # NodeNotReadyError: no reason of its own
    assert rig.lines[0].startswith("cannot reach Kafka at k1:9092 (Connection at k1:9092 closed);")


def test_warnings_stay_at_debug_for_a_minute_after_kafka_is_back(rig: Rig) -> None:
    assert not rig.watch.troubled()
    rig.fail_for(3)
    assert rig.watch.troubled()
    rig.answer = None
    rig.quiet_for(5)
    assert not rig.watch.outage.down and rig.watch.troubled()
    rig.quiet_for(60)
    assert not rig.watch.troubled()


# -- aiokafka's records ------------------------------------------------------------------


def aiokafka_record(name: str, level: int, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, level, "x.py", 1, msg, args, None)


REFUSED = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 19092)")


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (
            aiokafka_record(
                "aiokafka", logging.ERROR, "Unable connect to node with id %s: %s", 1, REFUSED
            ),
            "Connection refused",
        ),
        (
            aiokafka_record("aiokafka", logging.ERROR, "Unable to update metadata from %s", [1]),
            "",
        ),
        (
            aiokafka_record(
                "aiokafka.consumer.fetcher",
                logging.ERROR,
                "Failed fetch messages from %s: %s",
                1,
                NodeNotReadyError("Attempt to send a request to node which is not ready"),
            ),
            "",
        ),
        (
            aiokafka_record(
                "aiokafka.consumer.group_coordinator",
                logging.ERROR,
                "Group Coordinator Request failed: %s",
                GroupCoordinatorNotAvailableError(),
            ),
            None,  # the broker answered: the group is not ready yet
        ),
        (
            aiokafka_record("faust.transport.drivers.aiokafka", logging.ERROR, "%s", REFUSED),
            None,  # not aiokafka's
        ),
    ],
    ids=["refused", "metadata", "not ready", "coordinator not available", "other logger"],
)
def test_which_aiokafka_records_say_a_broker_cannot_be_reached(
    record: logging.LogRecord, reason: str | None
) -> None:
    assert connection_failure(record) == reason


class Seen(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelname, record.getMessage()))


@pytest.fixture
def root_seen() -> Iterator[Seen]:
    """The root logger's handlers replaced by one that keeps what reaches it, at INFO."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    seen = Seen()
    root.handlers[:] = [seen]
    root.setLevel(logging.INFO)
    yield seen
    root.handlers[:] = handlers
    root.setLevel(level)


def test_connection_failures_reach_the_root_handlers_only_at_debug(
    rig: Rig, root_seen: Seen
) -> None:
    watch = rig.watch
    router = ClientLogRouter(watch)
    failure = ("aiokafka", logging.ERROR, "Unable connect to node with id %s: %s", 1, REFUSED)
    router.handle(aiokafka_record(*failure))
    assert root_seen.records == []
    assert watch.troubled()  # and the watch has it

    logging.getLogger().setLevel(logging.DEBUG)  # what --verbose gives the worker
    router.handle(aiokafka_record(*failure))
    assert [level for _, level, _ in root_seen.records] == ["DEBUG"]


def test_other_records_pass_at_their_level_unless_kafka_is_troubled(
    rig: Rig, root_seen: Seen
) -> None:
    watch = rig.watch
    router = ClientLogRouter(watch)
    overlap = ("mode.timers", logging.WARNING, "Timer %s is overlapping", "commit")
    router.handle(aiokafka_record(*overlap))
    router.handle(aiokafka_record("aiokafka", logging.INFO, "Discovered coordinator 1"))
    watch.failed("Connection refused")
    router.handle(aiokafka_record(*overlap))  # held up by the outage: DEBUG, not shown
    router.handle(aiokafka_record("aiokafka", logging.INFO, "Discovered coordinator 1"))
    assert root_seen.records == [
        ("mode.timers", "WARNING", "Timer commit is overlapping"),
        ("aiokafka", "INFO", "Discovered coordinator 1"),
        ("aiokafka", "INFO", "Discovered coordinator 1"),
    ]


def test_installed_the_router_is_the_only_way_out_of_the_client_loggers(
    root_seen: Seen,
) -> None:
    names = ("aiokafka.test_kafka_watch",)  # a logger of aiokafka's own name, not its own
    logger = logging.getLogger(names[0])
    try:
        ClientLogRouter(Rig().watch, names).install()
        ClientLogRouter(Rig().watch, names).install()  # replaces the first, not beside it
        logger.warning("plain warning")
        logger.error("Unable to update metadata from %s", [1])
        assert len(logger.handlers) == 1 and not logger.propagate
        assert root_seen.records == [(names[0], "WARNING", "plain warning")]
    finally:
        logger.handlers.clear()
        logger.propagate = True
