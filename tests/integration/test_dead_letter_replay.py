"""Dead letters read back from a real topic, and replayed to the events topic once fixed."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

from config import Settings
from rules import EventDecodeError, FieldError, decode_event, encode_event
from streams.dead_letters import REPLAYED_FROM, read_letters, replay
from streams.dlq import Origin, dead_letter
from streams.smoke import sample_book
from streams.topics import ensure_topics


def _local(settings: Settings, worker_env: dict[str, str]) -> Settings:
    names = {name: worker_env[f"LOANWATCH_TOPICS__{name.upper()}"] for name in ("events", "dlq")}
    return settings.model_copy(update={"topics": settings.topics.model_copy(update=names)})


def _write_letters(settings: Settings, letters: list[Any]) -> None:
    producer = Producer(settings.kafka.ordered_producer_config())
    for letter in letters:
        producer.produce(
            settings.topics.dlq, key=letter.key, value=letter.value, headers=list(letter.headers)
        )
    assert producer.flush(30) == 0


def _events(settings: Settings) -> list[Any]:
    consumer = Consumer({**settings.kafka.confluent_config(), "group.id": uuid.uuid4().hex})
    out = []
    for partition in range(settings.topics.partitions):
        tp = TopicPartition(settings.topics.events, partition)
        low, high = consumer.get_watermark_offsets(tp, timeout=10)
        if high <= low:
            continue
        consumer.assign([TopicPartition(settings.topics.events, partition, low)])
        while len(out) < 100:
            msg = consumer.poll(5)
            assert msg is not None
            out.append(msg)
            if msg.offset() + 1 >= high:
                break
    consumer.close()
    return out


def test_letters_are_listed_and_only_those_the_worker_would_now_take_are_replayed(
    settings: Settings, worker_env: dict[str, str], stack: object
) -> None:
    local = _local(settings, worker_env)
    ensure_topics(local)
    good = sample_book("dlq", 1, datetime(2026, 1, 5, tzinfo=UTC))[0]
    origin = Origin(local.topics.events, 0, 7)
    now = datetime(2026, 1, 6, tzinfo=UTC)
    failed_step = EventDecodeError(
        [FieldError("$", "step failed: ZeroDivisionError: division by zero")],
        loan_id=good.loan_id,
    )
    letters = [
        # The worker's own fault, fixed since: the message is fine, it goes back.
        dead_letter(encode_event(good), good.loan_id.encode(), origin, failed_step, now),
        # Still broken: held back.
        dead_letter(b'{"type": "loan_disbursed", ', b"L-x", origin, _error("not valid JSON"), now),
        # A tick the worker dead-lettered: not an event, never replayed.
        dead_letter(b"2026-01-05", b"L-y", Origin("app-ticks", 0, 1), _error("tick"), now),
    ]
    _write_letters(local, letters)

    # Read partition by partition: put them back in the order they were written.
    order = [x.value for x in letters]
    found = sorted(read_letters(local, timeout_s=10), key=lambda x: order.index(x.value))
    assert [x.value for x in found] == order
    assert found[0].reason == "$: step failed: ZeroDivisionError: division by zero"
    assert found[0].loan_id == good.loan_id and found[0].source_topic == local.topics.events

    events_only = [x for x in found if x.matches(reason=None, loan=None, source=origin.topic)]
    assert len(events_only) == 2
    assert replay(local, events_only, dry_run=True) == (1, 1)
    assert _events(local) == []  # a dry run sends nothing

    seen: list[tuple[str, bool]] = []
    sent, held = replay(
        local, events_only, report=lambda letter, why, went: seen.append((letter.place, went))
    )
    assert (sent, held) == (1, 1) and seen == [(found[0].place, True), (found[1].place, False)]
    [back] = _events(local)
    assert back.key() == good.loan_id.encode() and decode_event(back.value()) == good
    assert dict(back.headers())[REPLAYED_FROM] == f"{local.topics.dlq}:{found[0].place}".encode()


def test_the_dlq_commands_list_show_and_replay_in_one_line_each(
    settings: Settings, worker_env: dict[str, str], stack: object, tmp_path: Path
) -> None:
    local = _local(settings, worker_env)
    ensure_topics(local)
    bad = orjson.dumps({"type": "write_off", "loan_id": "L-cli"})
    origin = Origin(local.topics.events, 1, 3)
    error = EventDecodeError([FieldError("event_id", "field required")], loan_id="L-cli")
    _write_letters(local, [dead_letter(bad, b"L-cli", origin, error, datetime.now(UTC))])

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "streams.cli", "dlq", *args],
            env={**worker_env, "COLUMNS": "200"},  # rich's table at its full width
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    listed = run("list")
    assert listed.returncode == 0, listed.stderr
    assert "L-cli" in listed.stdout and "event_id: field required" in listed.stdout
    assert "1 letter(s)" in listed.stdout
    [letter] = read_letters(local, timeout_s=10)
    shown = run("show", letter.place)
    assert shown.returncode == 0, shown.stderr
    assert bad.decode() in shown.stdout and "lw.error: event_id: field required" in shown.stdout
    assert run("show", "9:999").returncode == 1
    held = run("replay")
    assert held.returncode == 1
    assert "held back: event_id: field required" in held.stdout
    assert "0 sent" in held.stdout and "1 held back" in held.stdout


def _error(reason: str) -> EventDecodeError:
    return EventDecodeError([FieldError("$", reason)])
