"""The API's pure parts: the warnings query and cursor, outcome events, masking."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from api.exceptions import Problem
from api.masking import Masker
from api.outcomes import OutcomeIn, outcome_events
from api.roles import Role
from api.warnings_query import WarningFilter, build_query, decode_cursor, encode_cursor
from rules.decode import decode_event, encode_event

NOW = datetime(2026, 3, 5, 8, 0, tzinfo=UTC)


def test_filters_become_driver_parameters_never_sql_text() -> None:
    sql, params = build_query(
        "lw",
        WarningFilter(rule="dpd_30'; DROP TABLE x", team="t1", since=NOW, limit=10),
    )
    assert "DROP" not in sql
    assert "rule_id = %(rule)s" in sql and "owner_team = %(team)s" in sql
    assert params == {
        "rule": "dpd_30'; DROP TABLE x",
        "team": "t1",
        "since": int(NOW.timestamp()),
        "limit": 11,
    }
    assert sql.startswith("SELECT") and "FROM lw.warnings FINAL" in sql


def test_a_cursor_continues_after_its_row_in_the_newest_first_order() -> None:
    sql, params = build_query("lw", WarningFilter(cursor=encode_cursor(100, "w9", "open")))
    assert (params["c_t"], params["c_w"], params["c_s"]) == (100, "w9", "open")
    assert "ORDER BY second DESC, warning_id DESC, status DESC" in sql


@pytest.mark.parametrize("text", ["", "!!", "bm90LWEtY3Vyc29y", encode_cursor(1, "w", "open")[:-2]])
def test_a_cursor_we_did_not_issue_is_a_400_naming_the_cursor(text: str) -> None:
    with pytest.raises(Problem) as caught:
        decode_cursor(text)
    assert caught.value.status == 400 and caught.value.field == "query.cursor"


def _events(**body: object) -> list[object]:
    return outcome_events(
        OutcomeIn.model_validate(body),
        loan_id="L-1",
        borrower_id="bw-1",
        team="coll-m1",
        action_id="a-1",
        now=NOW,
    )


def test_a_refusal_with_a_note_is_a_note_and_its_label_both_in_the_contract() -> None:
    note, label = _events(outcome="refused", note="Will not pay.", event_id="crm-1")
    for event in (note, label):
        assert decode_event(encode_event(event)) == event  # type: ignore[arg-type]
    assert (label.intent, label.note_event_id, label.text) == ("refusal", "crm-1", "Will not pay.")  # type: ignore[attr-defined]


def test_without_a_note_or_an_intent_no_label_is_sent() -> None:
    (note,) = _events(outcome="unreachable")
    assert note.text == "Outcome of action a-1: unreachable."  # type: ignore[attr-defined]
    (contacted,) = _events(outcome="contacted", note="Spoke to him.")
    assert contacted.type == "collection_note"  # type: ignore[attr-defined]


def test_a_promise_comes_exactly_with_the_promise_outcome() -> None:
    (note, _label) = _events(
        outcome="promise_to_pay", note="Pays on the 15th.",
        promise_to_pay={"date": "2026-03-15", "amount": 1000},
    )  # fmt: skip
    assert note.promise_to_pay.amount == 1000  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="promise_to_pay"):
        OutcomeIn.model_validate({"outcome": "promise_to_pay"})
    with pytest.raises(ValidationError, match="promise_to_pay"):
        OutcomeIn.model_validate(
            {"outcome": "refused", "promise_to_pay": {"date": "2026-03-15", "amount": 1}}
        )


def test_viewers_see_a_stable_keyed_hash_and_collectors_the_reference() -> None:
    card = {"borrower_id": "bw-1", "open": {"w1": {"borrower_id": "bw-1"}}, "recent": []}
    masked = Masker(b"k", Role.VIEWER).record(card)
    assert masked["borrower_id"].startswith("bw#")
    assert masked["open"]["w1"]["borrower_id"] == masked["borrower_id"]
    assert card["borrower_id"] == "bw-1"  # the input is left alone
    assert Masker(b"k", Role.COLLECTOR).record(card) is card
