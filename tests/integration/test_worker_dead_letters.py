"""A real worker process routes poison messages to the DLQ, byte for byte, and goes on."""

from __future__ import annotations

import subprocess
import time
import uuid

import orjson
from confluent_kafka import Consumer, Producer

from config import Settings
from rules import encode_event
from streams.smoke import sample_book

POISON = {
    "bad_json": b'{"type": "loan_disbursed", ',
    "wrong_type": b'{"type": "repayment_received", "event_id": "p2", "loan_id": "L9", '
    b'"borrower_id": "bw-9", "event_time": "2026-01-05T08:00:00+08:00", "source": "pg", '
    b'"schema_version": 1, "amount": "12.50", "kind": "full", "payer_account": "a", '
    b'"payer_is_third_party": false, "channel": "app"}',
    "unknown_type": b'{"type": "loan_teleported", "event_id": "p3", "loan_id": "L9"}',
    "future_version": b'{"type": "write_off", "event_id": "p4", "loan_id": "L9", '
    b'"schema_version": 2}',
    "huge": b'{"type": "collection_note", "note": "' + b"x" * (600 * 1024) + b'"}',
}


def test_poison_messages_reach_the_dlq_with_original_bytes_and_reasons(
    settings: Settings, worker_env: dict[str, str], worker: subprocess.Popen[bytes]
) -> None:
    events_topic = worker_env["LOANWATCH_TOPICS__EVENTS"]
    dlq_topic = worker_env["LOANWATCH_TOPICS__DLQ"]
    good = [
        (e.loan_id.encode(), encode_event(e))
        for e in sample_book(uuid.uuid4().hex[:6], 2, _start())
    ]
    producer = Producer(settings.kafka.ordered_producer_config())
    failed: list[object] = []
    # Wait for the worker to create its topics, then interleave good and poison messages.
    _wait_for_topic(settings, events_topic)
    sent = list(POISON.items())
    for i, (name, payload) in enumerate(sent):
        for key, value in ((f"L-{name}".encode(), payload), good[i % len(good)]):
            producer.produce(
                events_topic, key=key, value=value, on_delivery=lambda e, _m: failed.append(e)
            )
    assert producer.flush(30) == 0
    assert [e for e in failed if e is not None] == []

    letters = _read(settings, dlq_topic, expect=len(POISON), timeout_s=90, proc=worker)
    by_key = {msg[0]: msg for msg in letters}
    assert set(by_key) == {f"L-{name}".encode() for name in POISON}
    for name, payload in POISON.items():
        _, value, headers = by_key[f"L-{name}".encode()]
        assert value == payload, name
        assert headers["lw.source.topic"] == events_topic.encode()
        assert int(headers["lw.source.offset"]) >= 0
        assert headers["lw.rejected_at"]
        assert orjson.loads(headers["lw.error.fields"])
    reasons = {name: by_key[f"L-{name}".encode()][2]["lw.error"].decode() for name in POISON}
    assert reasons["bad_json"].startswith("$: not valid JSON")
    assert "amount: money must be an integer" in reasons["wrong_type"]
    assert "loan_teleported" in reasons["unknown_type"]
    assert reasons["future_version"] == "schema_version: unsupported schema_version 2 (max 1)"
    assert "over the 524288-byte limit" in reasons["huge"]
    assert worker.poll() is None, "the worker must keep running after poison messages"


def _start() -> object:
    from datetime import UTC, datetime

    return datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _wait_for_topic(settings: Settings, topic: str, timeout_s: float = 60) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(settings.kafka.confluent_config())
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if topic in admin.list_topics(timeout=5).topics:
            return
        time.sleep(0.5)
    raise AssertionError(f"worker did not create {topic}")


def _read(
    settings: Settings,
    topic: str,
    *,
    expect: int,
    timeout_s: float,
    proc: subprocess.Popen[bytes],
) -> list[tuple[bytes, bytes, dict[str, bytes]]]:
    consumer = Consumer(
        {
            **settings.kafka.confluent_config(),
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    out: list[tuple[bytes, bytes, dict[str, bytes]]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < expect and time.monotonic() < deadline:
            assert proc.poll() is None, "worker exited"
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            headers = {k: v for k, v in (msg.headers() or [])}
            out.append((msg.key(), msg.value(), headers))
    finally:
        consumer.close()
    return out


def test_worker_reads_batches_compressed_with_every_kafka_codec(
    settings: Settings, worker_env: dict[str, str], worker: subprocess.Popen[bytes]
) -> None:
    """Producers choose their codec; a worker that cannot decompress one would crash."""
    events_topic = worker_env["LOANWATCH_TOPICS__EVENTS"]
    _wait_for_topic(settings, events_topic)
    codecs = ("gzip", "snappy", "lz4", "zstd")
    for codec in codecs:
        producer = Producer({**settings.kafka.producer_config(), "compression.type": codec})
        producer.produce(events_topic, key=f"L-{codec}".encode(), value=b'{"not": "an event"}')
        assert producer.flush(30) == 0
    letters = _read(
        settings, worker_env["LOANWATCH_TOPICS__DLQ"], expect=len(codecs), timeout_s=60, proc=worker
    )
    assert {key for key, _, _ in letters} == {f"L-{codec}".encode() for codec in codecs}
    assert worker.poll() is None
