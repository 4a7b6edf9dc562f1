"""No borrower identifier leaves the stream in clear, even when a producer puts one in.

Collectors write what borrowers tell them, and a note (and a collector's label
on it, which repeats its text) can hold a phone number,
an ID number, an e-mail address, a bank card or a name. The worker reads the
text (the intent model, the note rules) but must write none of it: every
output topic the worker writes (warnings, transitions, actions, model metrics),
its own log, and what the Redis and ClickHouse writers then make of those
topics are swept, byte by byte, for the injected values and for anything
shaped like one. Nothing here is refused, so the dead-letter topic, which keeps
a refused message's original bytes by design, must stay empty.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import redis
from clickhouse_driver import Client

from config import Settings
from rules import CollectionNote, LoanDisbursed, NoteLabelled
from sinks.clickhouse import ClickHouseWriter, migrate
from sinks.redis import RedisWriter

SECRETS = {
    "phone": "13812345678",
    "id_number": "11010119900307771X",
    "e-mail": "zhang.wei.1990@example.com",
    "bank card": "6222021234567890123",
    "name": "张伟",
}
NOTES = (
    "Borrower {name} says the new number is {phone}, ID {id_number}; cannot pay this month.",
    "Lost job. Write to {e-mail}; will pay from card {bank card} next week.",
    "Refuses to pay, says the fees are wrong. {name}, {phone}.",
)
SHAPES = {
    "phone": re.compile(rb"(?<![\d.])1[3-9]\d{9}(?![\d.])"),
    "id_number": re.compile(rb"(?<![\d.])\d{17}[\dXx](?![\d.])"),
    "e-mail": re.compile(rb"[\w.+-]+@[\w-]+\.[A-Za-z]{2,}"),
}


def _notes(events: list[Any], every: int = 3) -> list[CollectionNote]:
    """A note full of identifiers on every ``every``-th loan, 40 days after it was paid out."""
    disbursed = [e for e in events if isinstance(e, LoanDisbursed)][::every]
    return [
        CollectionNote(
            event_id=f"pii-note-{n}",
            loan_id=loan.loan_id,
            borrower_id=loan.borrower_id,
            event_time=loan.event_time + timedelta(days=40, hours=3),
            source="crm",
            schema_version=1,
            text=NOTES[n % len(NOTES)].format_map(SECRETS),
            author_team="collections-m1",
        )
        for n, loan in enumerate(disbursed)
    ]


def _labels(notes: list[CollectionNote]) -> list[NoteLabelled]:
    """A collector's label on every other note: it carries the note's text again."""
    return [
        NoteLabelled(
            event_id=f"pii-label-{n}",
            loan_id=note.loan_id,
            borrower_id=note.borrower_id,
            event_time=note.event_time + timedelta(days=2),
            source="collection-qa",
            schema_version=1,
            note_event_id=note.event_id,
            intent="hardship",
            text=note.text,
            labelled_by="collections-qa",
        )
        for n, note in enumerate(notes[::2])
    ]


def _leaks(name: str, blobs: list[bytes]) -> list[str]:
    found = []
    for blob in blobs:
        for what, value in SECRETS.items():
            if value.encode() in blob:
                found.append(f"{name}: {what} {value!r} in {blob[:160]!r}")
        for what, shape in SHAPES.items():
            for match in shape.findall(blob):
                found.append(f"{name}: {what}-shaped {match!r} in {blob[:160]!r}")
    return found


def _drain(writer: Any, expected: int, timeout_s: float = 90) -> None:
    """Drain a sink writer until it has consumed ``expected`` messages."""
    consumed, deadline = 0, time.monotonic() + timeout_s
    while consumed < expected:
        assert time.monotonic() < deadline, f"the writer consumed {consumed} of {expected}"
        consumed += writer.drain_once().consumed


def _redis_dump(client: redis.Redis, prefix: str) -> list[bytes]:
    """Every key under ``prefix`` and everything it holds, as bytes."""
    out = []
    for key in client.scan_iter(match=prefix + "*"):
        kind = client.type(key)
        if kind == b"hash":
            value: Any = client.hgetall(key)
        elif kind == b"list":
            value = client.lrange(key, 0, -1)
        elif kind == b"set":
            value = client.smembers(key)
        elif kind == b"zset":
            value = client.zrange(key, 0, -1)
        elif kind == b"stream":
            value = client.xrange(key)
        else:
            value = client.get(key)
        out.append(key + b" " + repr(value).encode())
    return out


def _clickhouse_dump(client: Client) -> list[bytes]:
    """Every row of every table in the client's database, as bytes."""
    tables = [name for (name,) in client.execute("SHOW TABLES")]
    return [
        f"{table} {row!r}".encode()
        for table in tables
        for row in client.execute(f"SELECT * FROM {table}")  # noqa: S608 - our own table names
    ]


def test_identifiers_in_collection_notes_reach_no_output_no_log_and_no_store(
    harness,
    tmp_path,
    redis_client: redis.Redis,
    redis_prefix: str,
    clickhouse: Client,
    unique: str,
) -> None:
    book = harness.book(loans=20, months=4, seed=7)
    notes = _notes(book)
    labels = _labels(notes)
    events = sorted([*book, *notes, *labels], key=lambda e: e.event_time)
    topics = harness.local.topics
    outputs = [topics.warnings, topics.transitions, topics.actions, topics.model_metrics]

    harness.start("worker", tmp_path / "data", LOANWATCH_WORKER__MODELS="true")
    collector = harness.collector(topics=[*outputs, topics.dlq])
    harness.produce(events)
    harness.wait_committed(len(events), timeout_s=150, alive=("worker",))
    collector.drain(3.0)  # the outputs of the last events, sent before their offsets

    assert len(notes) >= 6
    assert collector.raw[topics.dlq] == [], harness.logs()
    assert sum(len(collector.raw[t]) for t in outputs) > len(notes)
    leaks = [leak for t in outputs for leak in _leaks(t, collector.raw[t])]
    log = harness.log_text("worker").encode()
    leaks += _leaks("worker.log", [log])
    assert leaks == [], "\n".join(leaks[:20])

    # What the sinks keep of those topics: Redis's view and ClickHouse's tables.
    local: Settings = harness.local
    redis_writer = RedisWriter(local, group_id=f"test-{unique}-redis", prefix=redis_prefix)
    try:
        _drain(redis_writer, sum(len(collector.raw[t]) for t in redis_writer.topics))
    finally:
        redis_writer.close()
    database = clickhouse.execute("SELECT currentDatabase()")[0][0]
    stored = local.model_copy(
        update={"clickhouse": local.clickhouse.model_copy(update={"database": database})}
    )
    migrate(stored)
    ch_writer = ClickHouseWriter(stored, group_id=f"test-{unique}-clickhouse", max_wait_s=0.5)
    try:
        sent = {**{t: len(collector.raw[t]) for t in outputs}, topics.events: len(events)}
        _drain(ch_writer, sum(sent[t] for t in ch_writer.topics))
    finally:
        ch_writer.close()

    in_redis = _redis_dump(redis_client, redis_prefix)
    in_clickhouse = _clickhouse_dump(clickhouse)
    assert in_redis and in_clickhouse
    stored_labels = "SELECT count() FROM note_labels WHERE startsWith(event_id, 'pii-label-')"
    assert clickhouse.execute(stored_labels)[0][0] == len(labels)
    leaks = _leaks("redis", in_redis) + _leaks("clickhouse", in_clickhouse)
    assert leaks == [], "\n".join(leaks[:20])


def test_the_sweep_finds_each_kind_of_identifier_it_looks_for() -> None:
    blobs = [note.format_map(SECRETS).encode() for note in NOTES]

    found = " ".join(_leaks("probe", blobs))

    for what in SECRETS:
        assert f"{what} " in found, what
    assert _leaks("probe", [b'{"dpd": 31, "amount": 120000, "pd": 0.1234567890123}']) == []
