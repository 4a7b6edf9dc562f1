"""The loan book and model-score rows: what the writer derives beyond the outputs' rows."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest
from test_clickhouse_tables import WARNING

from sinks.clickhouse import row_of
from sinks.clickhouse.book import LOANS, MODEL_SCORES, loan_row, score_row
from sinks.clickhouse.tables import BadMessage

EVENTS_DOC = Path(__file__).resolve().parents[3] / "docs" / "events.md"


def documented_disbursement() -> dict[str, object]:
    text = EVENTS_DOC.read_text(encoding="utf-8")
    block = re.search(r"```json\n(\{\n  \"type\": \"loan_disbursed\".*?)```", text, re.DOTALL)
    assert block is not None, "docs/events.md lost its loan_disbursed example"
    body: dict[str, object] = orjson.loads(block.group(1))
    return body


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
