"""How an unreachable service is reported: once, then once a minute, then once when back."""

from __future__ import annotations

import logging

import pytest

from config.outage import KafkaClientLog, Outage, redis_address, short_reason


def test_an_outage_is_said_once_then_once_a_minute_then_once_when_it_ends() -> None:
    lines: list[str] = []
    now = [0.0]
    outage = Outage("Kafka", "k1:9092", say=lines.append, clock=lambda: now[0])
    for second in range(0, 150):  # a failed attempt every second for 150 s
        now[0] = float(second)
        outage.failed("Connection refused")
    outage.recovered()
    outage.recovered()  # nothing more to say
    assert [line.split(" (")[0] for line in lines] == [
        "cannot reach Kafka at k1:9092",
        "still cannot reach Kafka at k1:9092",
        "still cannot reach Kafka at k1:9092",
        "Kafka at k1:9092 answers again after 149 s",
    ]


def test_librdkafka_connection_failures_go_to_debug_and_other_lines_keep_their_level(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="librdkafka")
    bridge = KafkaClientLog()
    bridge.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#consumer-1", "Connection refused")
    bridge.log(logging.WARNING, "%s [%s] %s", "CONFWARN", "rdkafka#consumer-1", "ignored key")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.DEBUG, "FAIL [rdkafka#consumer-1] Connection refused"),
        (logging.WARNING, "CONFWARN [rdkafka#consumer-1] ignored key"),
    ]


def test_a_redis_password_never_appears_in_the_address_we_print() -> None:
    assert redis_address("redis://:hunter2@cache:6379/0") == "redis://:***@cache:6379/0"


def test_a_wrapped_os_error_gives_the_reason_in_the_systems_words() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as exc:
            raise RuntimeError("Error 111 connecting to 127.0.0.1:1. Connection refused.") from exc
    except RuntimeError as wrapped:
        assert short_reason(wrapped) == "Connection refused"
