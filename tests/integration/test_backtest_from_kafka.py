"""The backtest reading its history from a real Kafka topic (``kafka:TOPIC[@START..END]``).

A small simulator book goes to a test topic (two partitions, keyed by loan_id,
as the worker's producers key it) and to a file; the replays of both give the
same figures, and the messages that are not events are reported by position.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from config import Settings
from rules import Event, encode_event
from rules.pack import default_pack
from rules.policy import load_policy
from rules.workflows import load_workflow_policy
from streams.backtest import (
    BacktestOptions,
    BacktestReport,
    BadMessage,
    FileHistory,
    History,
    KafkaHistory,
    TopicRange,
    report_obj,
    run_backtest,
)
from streams.backtest.exceptions import BacktestError
from streams.simulate import BookSpec, LoanBook, produce_book, write_book

BOOK = BookSpec(40, 4, 7)


def history(settings: Settings, text: str) -> KafkaHistory:
    return KafkaHistory(settings.kafka.confluent_config(), TopicRange.parse(text), timeout_s=15)


def backtest(source: History) -> BacktestReport:
    return run_backtest(
        source,
        pack=default_pack(),
        against=None,
        policy=load_policy(),
        workflows=load_workflow_policy(),
        options=BacktestOptions(),
    )


def figures(report: BacktestReport) -> dict[str, Any]:
    """The report without what depends on the source or the clock."""
    doc = report_obj(report)
    for key in ("source", "bad_lines", "bad_messages"):
        doc.pop(key)
    for key in ("elapsed_s", "events_per_s"):
        doc["candidate"]["replay"].pop(key)
    return doc


def produce_bad(settings: Settings, topic: str, first: Event) -> None:
    """Not JSON, a tombstone, and a good event keyed by another loan, all to partition 1."""
    producer = Producer(settings.kafka.producer_config())
    producer.produce(topic, key=b"L-oops", value=b"{oops", partition=1)
    producer.produce(topic, key=b"L-gone", value=None, partition=1)
    producer.produce(topic, key=b"someone-else", value=encode_event(first), partition=1)
    assert producer.flush(30) == 0


@pytest.fixture
def book_topic(settings: Settings, topic: str, tmp_path: Path) -> tuple[str, Path]:
    """The book in ``topic`` (three bad messages after it) and in a file; returns both."""
    path = tmp_path / "book.jsonl"
    write_book(LoanBook(BOOK), path)
    sent = produce_book(settings, LoanBook(BOOK), rate=None, topic=topic)
    assert sent.delivered == sent.produced
    produce_bad(settings, topic, next(iter(LoanBook(BOOK))))
    return topic, path


def test_a_topic_and_a_file_of_the_same_book_give_the_same_figures(
    settings: Settings, book_topic: tuple[str, Path]
) -> None:
    topic, path = book_topic
    from_file = backtest(FileHistory(path))
    from_topic = backtest(history(settings, f"kafka:{topic}"))
    assert from_topic.candidate.replay.events == from_file.candidate.replay.events > 1000
    assert from_topic.candidate.evaluation.book.bad_loans > 0
    assert figures(from_topic) == figures(from_file)
    assert from_file.bad_inputs == ()
    bad = from_topic.bad_inputs
    assert [(b.partition, b.reason.split(":")[0]) for b in bad if isinstance(b, BadMessage)] == [
        (1, "$"),
        (1, "empty message (tombstone)"),
        (1, "key"),
    ]
    offsets = [b.offset for b in bad if isinstance(b, BadMessage)]
    assert offsets == sorted(offsets) and len(set(offsets)) == 3
    assert from_topic.source.startswith(f"kafka:{topic} (0:0..")


def test_offsets_bound_every_partition_and_the_end_is_the_high_watermark_at_start(
    settings: Settings, book_topic: tuple[str, Path]
) -> None:
    topic, _ = book_topic
    whole = history(settings, f"kafka:{topic}")
    spans = whole.spans()
    assert [s.partition for s in spans] == [0, 1] and all(s.start == 0 for s in spans)
    produce_bad(settings, topic, next(iter(LoanBook(BOOK))))  # after the range was fixed
    assert sum(1 for _ in whole) + len(whole.bad) == whole.size == sum(s.end for s in spans)
    assert len(whole.bad) == 3

    middle = history(settings, f"kafka:{topic}@100..300")
    assert [(s.start, s.end) for s in middle.spans()] == [(100, 300), (100, 300)]
    events = list(middle)
    assert len(events) == 400 == middle.position
    times = [e.event_time for e in events]
    assert times == sorted(times)  # each partition is in time order, so the merge is too


def test_times_select_by_message_timestamp(
    settings: Settings, book_topic: tuple[str, Path]
) -> None:
    topic, _ = book_topic
    ahead = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    later = history(settings, f"kafka:{topic}@{ahead}..")
    assert later.size == 0 and list(later) == []
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert history(settings, f"kafka:{topic}@{since}..{ahead}").size == (
        history(settings, f"kafka:{topic}").size
    )


def test_a_missing_topic_is_one_error_naming_it(settings: Settings, unique: str) -> None:
    with pytest.raises(BacktestError, match=f"Kafka has no topic 'test.{unique}.none'"):
        history(settings, f"kafka:test.{unique}.none").spans()
