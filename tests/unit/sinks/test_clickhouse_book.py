"""The loan book and model-score rows: what the writer derives beyond the outputs' rows."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest
from test_clickhouse_tables import WARNING

from sinks.clickhouse import row_of
from sinks.clickhouse.book import (
    LOANS,
    MODEL_SCORES,
    NOTE_LABELS,
    book_row,
    loan_row,
    note_label_row,
    score_row,
)
from sinks.clickhouse.tables import BadMessage

EVENTS_DOC = Path(__file__).resolve().parents[3] / "docs" / "events.md"


def documented(event_type: str) -> dict[str, object]:
    text = EVENTS_DOC.read_text(encoding="utf-8")
    block = re.search(rf'```json\n(\{{\n  "type": "{event_type}".*?)```', text, re.DOTALL)
    assert block is not None, f"docs/events.md lost its {event_type} example"
    body: dict[str, object] = orjson.loads(block.group(1))
    return body


def documented_disbursement() -> dict[str, object]:
    return documented("loan_disbursed")


def test_the_documented_disbursement_becomes_a_loan_row() -> None:
    row = loan_row(orjson.dumps(documented_disbursement()))
    assert row is not None
    named = dict(zip((c.name for c in LOANS.columns), row, strict=True))
    assert named["loan_id"] == "L-2024-000123" and named["principal"] == 300000
    assert (named["installments"], named["first_due_on"], named["last_due_on"]) == (
        3,
        date(2024, 4, 1),
        date(2024, 6, 1),
    )
    # 09:30 in +08:00: stored in UTC, while the day is the lender's own.
    assert named["disbursed_at"] == datetime(2024, 3, 1, 1, 30, tzinfo=UTC)
    assert named["disbursed_on"] == date(2024, 3, 1)


def test_other_events_are_skipped_and_a_broken_disbursement_is_refused() -> None:
    assert loan_row(orjson.dumps({"type": "repayment_received", "loan_id": "L1"})) is None
    assert loan_row(None) is None
    body = documented_disbursement()
    del body["principal"]
    with pytest.raises(BadMessage, match="principal"):
        loan_row(orjson.dumps(body))
    with pytest.raises(BadMessage, match="schedule"):
        loan_row(orjson.dumps({**documented_disbursement(), "schedule": []}))


def test_a_warning_with_a_score_gives_a_model_score_row_and_one_without_none() -> None:
    scored = row_of("warnings", orjson.dumps({**WARNING, "rule_id": "high_pd", "score": 0.41}))
    row = score_row(scored)
    assert row is not None
    named = dict(zip((c.name for c in MODEL_SCORES.columns), row, strict=True))
    assert (named["rule_id"], named["score"], named["warning_id"]) == (
        "high_pd",
        0.41,
        WARNING["warning_id"],
    )
    assert score_row(row_of("warnings", orjson.dumps({**WARNING, "score": None}))) is None
    assert not any(c.nullable for c in MODEL_SCORES.columns)


def test_the_documented_label_becomes_a_note_label_row_without_its_text() -> None:
    body = documented("note_labelled")
    row = note_label_row(orjson.dumps(body))
    assert row is not None
    named = dict(zip((c.name for c in NOTE_LABELS.columns), row, strict=True))
    assert named == {
        "note_event_id": "coll-20240405-3381",
        "intent": "hardship",
        "labelled_by": "collections-qa",
        "loan_id": "L-2024-000123",
        "borrower_id": "bp-7f3a9c",
        "labelled_at": datetime(2024, 4, 8, 2, 15, tzinfo=UTC),  # 10:15 at +08:00
        "event_id": "coll-label-20240408-0112",
        "schema_version": 1,
    }
    assert str(body["text"]) not in map(str, row)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"intent": "angry"}, "field 'intent': 'angry' is not one of promise_to_pay"),
        ({"intent": 3}, "field 'intent': expected a string, got int"),
        ({"note_event_id": None}, "field 'note_event_id' is null"),
        ({"event_time": "2024-04-08T10:15:00"}, "field 'event_time': time without a UTC offset"),
        ({"event_time": "last Monday"}, "field 'event_time': not an ISO-8601 time"),
        ({"schema_version": "1"}, "field 'schema_version': expected an integer, got str"),
        ({"schema_version": 2}, "field 'schema_version': unsupported schema_version 2"),
    ],
)
def test_a_broken_label_is_refused_naming_the_field(change: dict[str, object], reason: str) -> None:
    with pytest.raises(BadMessage) as refused:
        note_label_row(orjson.dumps({**documented("note_labelled"), **change}))
    assert str(refused.value).startswith(reason)


def test_a_label_without_a_field_is_refused_and_other_events_are_skipped() -> None:
    body = documented("note_labelled")
    del body["labelled_by"]
    with pytest.raises(BadMessage, match="missing field 'labelled_by'"):
        note_label_row(orjson.dumps(body))
    assert note_label_row(orjson.dumps(documented("collection_note"))) is None
    assert note_label_row(orjson.dumps(documented_disbursement())) is None
    assert note_label_row(None) is None


def test_the_book_routes_each_event_to_its_table_and_names_it_when_refusing() -> None:
    routed = book_row(orjson.dumps(documented_disbursement()))
    assert routed is not None and routed[0] == "loans"
    routed = book_row(orjson.dumps(documented("note_labelled")))
    assert routed is not None and routed[0] == "note_labels"
    # A note whose text quotes another event type is still only what its type says.
    quoting = {**documented("collection_note"), "text": 'said "loan_disbursed" "note_labelled"'}
    assert book_row(orjson.dumps(quoting)) is None
    with pytest.raises(BadMessage) as refused:
        book_row(orjson.dumps({**documented("note_labelled"), "intent": "angry"}))
    assert refused.value.table == "note_labels"
    with pytest.raises(BadMessage) as refused:
        book_row(orjson.dumps({**documented_disbursement(), "schedule": []}))
    assert refused.value.table == "loans"
