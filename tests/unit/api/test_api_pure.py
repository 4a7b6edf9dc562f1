"""The API's pure parts: the warnings query and cursor, outcome events, masking."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from api.exceptions import Problem
from api.masking import Masker
from api.outcomes import OutcomeIn, outcome_events
from api.pages import Paged, decode_cursor, encode_cursor
from api.roles import Role
from api.routes.warnings import WARNINGS
from rules.decode import decode_event, encode_event

NOW = datetime(2026, 3, 5, 8, 0, tzinfo=UTC)


def test_filters_become_driver_parameters_never_sql_text() -> None:
    sql, params = WARNINGS.query(
        "lw",
        {"rule_id": "dpd_30'; DROP TABLE x", "owner_team": "t1", "severity": None},
        [("toUInt32(event_time) >= {p}", int(NOW.timestamp()))],
        None,
        10,
    )
    assert "DROP" not in sql and "severity" not in sql.split("FROM")[1]
    assert "rule_id = %(rule_id)s" in sql and "toUInt32(event_time) >= %(p0)s" in sql
    assert params == {
        "rule_id": "dpd_30'; DROP TABLE x",
        "owner_team": "t1",
        "p0": int(NOW.timestamp()),
        "_limit": 11,
    }
    assert sql.startswith("SELECT") and "FROM lw.warnings FINAL" in sql


def test_a_cursor_continues_after_its_row_in_the_newest_first_order() -> None:
    sql, params = WARNINGS.query("lw", {}, [], encode_cursor([100, "w9", "open"]), 5)
    assert (params["_c0"], params["_c1"], params["_c2"]) == (100, "w9", "open")
    assert "ORDER BY _k0 DESC, _k1 DESC, _k2 DESC" in sql
    rows = [("w9", 100, "x"), ("w8", 99, "y"), ("w7", 98, "z")]
    paged = Paged("t", ("id",), order=("at", "tag"))
    page, cursor = paged.page(rows, 2)
    assert page == [{"id": "w9"}, {"id": "w8"}]
    assert cursor is not None and decode_cursor(cursor, 2) == [99, "y"]
    assert paged.page(rows, 3)[1] is None


@pytest.mark.parametrize(
    "text", ["", "!!", "bm90LWEtY3Vyc29y", encode_cursor([1, "w"]), encode_cursor([1, "w", True])]
)
def test_a_cursor_we_did_not_issue_is_a_400_naming_the_cursor(text: str) -> None:
    with pytest.raises(Problem) as caught:
        decode_cursor(text, 3)
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
