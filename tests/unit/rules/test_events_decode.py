"""Decoding the event contract: valid messages become records, bad ones say why."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import date, timedelta
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from config.errors import LoanwatchError
from rules import (
    EVENT_TYPES,
    MAX_EVENT_BYTES,
    SCHEMA_VERSION,
    EventDecodeError,
    FieldError,
    LoanDisbursed,
    RulesError,
    WriteOff,
    check_key,
    decode_event,
    encode_event,
)

ENVELOPE: dict[str, Any] = {
    "event_id": "evt-0001",
    "loan_id": "L-2024-000123",
    "borrower_id": "bp-7f3a9c",
    "event_time": "2024-03-01T09:30:00+08:00",
    "source": "core-banking",
    "schema_version": 1,
}

SCHEDULE: list[dict[str, Any]] = [
    {"seq": 1, "due_date": "2024-04-01", "principal": 100000, "interest": 3000, "fees": 0},
    {"seq": 2, "due_date": "2024-05-01", "principal": 100000, "interest": 2000, "fees": 0},
    {"seq": 3, "due_date": "2024-06-01", "principal": 100000, "interest": 1000, "fees": 500},
]

BODIES: dict[str, dict[str, Any]] = {
    "loan_disbursed": {
        "principal": 300000,
        "currency": "CNY",
        "product": "consumer-cash-3m",
        "disbursed_account": "acct-ref-55",
        "interest_rate_bps": 1200,
        "schedule": SCHEDULE,
    },
    "installment_due": {"seq": 1, "due_date": "2024-04-01", "amount_due": 103000},
    "repayment_received": {
        "amount": 103000,
        "kind": "full",
        "payer_account": "acct-ref-55",
        "payer_is_third_party": False,
        "channel": "auto_debit",
    },
    "repayment_reversed": {"reversed_event_id": "evt-0002", "reason": "insufficient funds"},
    "account_transaction": {
        "account": "acct-ref-55",
        "direction": "out",
        "amount": 250000,
        "currency": "CNY",
        "counterparty_category": "securities",
        "balance_after": -1500,
    },
    "account_balance": {"account": "acct-ref-55", "balance": 4200, "currency": "CNY"},
    "bureau_report": {
        "bureau": "pboc",
        "new_delinquencies": 1,
        "inquiries": 7,
        "inquiry_window_days": 30,
        "has_lawsuit": False,
        "has_enforcement": True,
        "total_external_debt": 9000000,
        "currency": "CNY",
    },
    "contact_change": {"changed": "phone", "new_value_ref": "masked:138****5678"},
    "collection_note": {
        "text": "Lost job in February, asks for two weeks.",
        "author_team": "collections-m1",
        "promise_to_pay": {"date": "2024-04-15", "amount": 103000},
    },
    "restructure": {"schedule": SCHEDULE, "reason": "hardship plan", "observation_months": 6},
    "write_off": {"amount": 1250000, "reason": "unrecoverable after legal action"},
    "collateral_valuation": {"collateral_id": "prop-ref-3301", "value": 450000, "currency": "CNY"},
    "statement_issued": {
        "previous_balance": 820000,
        "payments": 40000,
        "balance": 905000,
        "minimum_due": 36200,
        "credit_limit": 1000000,
        "currency": "CNY",
    },
    "note_labelled": {
        "note_event_id": "coll-20240405-3381",
        "intent": "hardship",
        "text": "Lost job in February, asks for two weeks.",
        "labelled_by": "collections-qa",
    },
}


def message(event_type: str, **changes: Any) -> dict[str, Any]:
    """A valid message of `event_type` as a JSON-ready dict, with `changes` applied."""
    return {"type": event_type, **ENVELOPE, **BODIES[event_type], **changes}


def raw(data: Any) -> bytes:
    return orjson.dumps(data)


def decode_error(data: Any) -> EventDecodeError:
    with pytest.raises(EventDecodeError) as caught:
        decode_event(data if isinstance(data, bytes) else raw(data))
    return caught.value


def decode_error_with_limit(payload: bytes, *, max_bytes: int) -> EventDecodeError:
    with pytest.raises(EventDecodeError) as caught:
        decode_event(payload, max_bytes=max_bytes)
    return caught.value


def reasons(error: EventDecodeError) -> dict[str, str]:
    return {field_error.field: field_error.reason for field_error in error.errors}


def test_samples_cover_every_event_type() -> None:
    assert set(BODIES) == set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_each_event_type_decodes_to_its_own_record(event_type: str) -> None:
    event = decode_event(raw(message(event_type)))

    assert type(event) is EVENT_TYPES[event_type]
    assert event.type == event_type
    assert event.loan_id == "L-2024-000123"


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_encoding_then_decoding_gives_back_an_equal_event(event_type: str) -> None:
    event = decode_event(raw(message(event_type)))

    assert decode_event(encode_event(event)) == event


def test_equal_events_encode_to_identical_sorted_bytes() -> None:
    forwards = message("write_off")
    backwards = dict(reversed(list(forwards.items())))

    encoded = encode_event(decode_event(raw(forwards)))

    assert encoded == encode_event(decode_event(raw(backwards)))
    assert list(orjson.loads(encoded)) == sorted(forwards)


def test_event_time_keeps_its_utc_offset() -> None:
    event = decode_event(raw(message("write_off")))

    assert event.event_time.utcoffset() == timedelta(hours=8)


def test_decoded_events_cannot_be_changed() -> None:
    event = decode_event(raw(message("write_off")))

    with pytest.raises(ValidationError):
        event.loan_id = "L-other"  # type: ignore[misc]


def test_schedule_is_decoded_to_dated_installments() -> None:
    event = decode_event(raw(message("loan_disbursed")))

    assert isinstance(event, LoanDisbursed)
    assert [line.due_date for line in event.schedule][0] == date(2024, 4, 1)
    assert isinstance(event.schedule, tuple)


def test_naive_event_time_is_rejected_naming_the_field() -> None:
    error = decode_error(message("write_off", event_time="2024-03-01T09:30:00"))

    assert str(error) == "event_time: naive datetime, timezone required"


def test_epoch_number_is_not_accepted_as_event_time() -> None:
    error = decode_error(message("write_off", event_time=1709256600))

    assert reasons(error) == {
        "event_time": "expected an ISO-8601 timestamp string with offset, got integer"
    }


def test_float_money_is_rejected_naming_the_field() -> None:
    error = decode_error(message("repayment_received", amount=1030.5))

    assert reasons(error) == {"amount": "money must be an integer in minor units, got number"}


def test_money_as_a_string_is_rejected() -> None:
    error = decode_error(message("write_off", amount="1250000"))

    assert reasons(error) == {"amount": "money must be an integer in minor units, got string"}


def test_negative_money_is_rejected() -> None:
    error = decode_error(message("installment_due", amount_due=-1))

    assert "amount_due" in reasons(error)
    assert reasons(error)["amount_due"].startswith("must be greater than or equal to 0")


def test_zero_repayment_is_rejected() -> None:
    error = decode_error(message("repayment_received", amount=0))

    assert reasons(error)["amount"].startswith("must be greater than 0")


def test_negative_balance_is_allowed_for_an_overdrawn_account() -> None:
    event = decode_event(raw(message("account_balance", balance=-250)))

    assert event.type == "account_balance"
    assert event.balance == -250


def test_boolean_is_not_accepted_as_a_count() -> None:
    error = decode_error(message("bureau_report", inquiries=True))

    assert reasons(error) == {"inquiries": "expected an integer, got boolean"}


def test_string_is_not_accepted_as_a_flag() -> None:
    error = decode_error(message("repayment_received", payer_is_third_party="no"))

    assert reasons(error) == {"payer_is_third_party": "expected true or false, got string"}


def test_value_outside_a_closed_list_names_the_allowed_values() -> None:
    error = decode_error(message("repayment_received", kind="most"))

    assert reasons(error) == {"kind": "expected 'full', 'partial' or 'early', got 'most'"}


def test_lower_case_currency_is_rejected() -> None:
    error = decode_error(message("account_balance", currency="cny"))

    assert list(reasons(error)) == ["currency"]


def test_missing_field_is_named() -> None:
    data = message("repayment_received")
    del data["channel"]

    assert str(decode_error(data)) == "channel: field required"


def test_missing_envelope_field_is_named() -> None:
    data = message("write_off")
    del data["borrower_id"]

    assert str(decode_error(data)) == "borrower_id: field required"


def test_extra_field_is_rejected() -> None:
    error = decode_error(message("write_off", amont=5))

    assert str(error) == "amont: unexpected field"


def test_empty_event_id_is_rejected() -> None:
    error = decode_error(message("write_off", event_id=""))

    assert reasons(error) == {"event_id": "must not be empty"}
    assert error.event_id is None


def test_blank_reason_is_rejected() -> None:
    error = decode_error(message("write_off", reason="   "))

    assert reasons(error) == {"reason": "must not be blank"}


def test_missing_type_lists_the_known_types() -> None:
    data = message("write_off")
    del data["type"]

    error = decode_error(data)

    assert [e.field for e in error.errors] == ["type"]
    assert error.errors[0].reason.startswith("missing event type; known: account_balance, ")
    assert all(name in error.errors[0].reason for name in EVENT_TYPES)


def test_unknown_type_is_named_and_the_known_types_listed() -> None:
    error = decode_error(message("write_off", type="loan_sold"))

    assert error.errors[0].field == "type"
    assert error.errors[0].reason.startswith("unknown event type 'loan_sold'; known: ")
    assert all(name in error.errors[0].reason for name in EVENT_TYPES)
    assert error.event_type is None


def test_future_schema_version_is_rejected_with_the_supported_maximum() -> None:
    error = decode_error(message("write_off", schema_version=SCHEMA_VERSION + 1))

    assert str(error) == "schema_version: unsupported schema_version 2 (max 1)"


def test_future_schema_version_is_the_only_reason_given_for_its_new_fields() -> None:
    error = decode_error(message("write_off", schema_version=2, recovery_agency="acme"))

    assert reasons(error) == {"schema_version": "unsupported schema_version 2 (max 1)"}


def test_future_schema_version_is_rejected_when_built_in_python() -> None:
    fields = {**message("write_off"), "schema_version": 2}

    with pytest.raises(ValidationError, match=r"unsupported schema_version 2 \(max 1\)"):
        WriteOff(**fields)


def test_schema_version_zero_is_rejected() -> None:
    error = decode_error(message("write_off", schema_version=0))

    assert list(reasons(error)) == ["schema_version"]


def test_bytes_that_are_not_json_are_rejected_as_a_whole() -> None:
    error = decode_error(b'{"type": "write_off",')

    assert [e.field for e in error.errors] == ["$"]
    assert error.errors[0].reason.startswith("not valid JSON: ")
    assert error.event_id is None and error.loan_id is None


def test_invalid_utf8_is_rejected_as_not_json() -> None:
    error = decode_error(b'{"reason": "\xff"}')

    assert error.errors[0].reason.startswith("not valid JSON: ")


@pytest.mark.parametrize(
    ("payload", "kind"),
    [(b"[]", "array"), (b'"write_off"', "string"), (b"null", "null"), (b"42", "integer")],
)
def test_json_that_is_not_an_object_is_rejected(payload: bytes, kind: str) -> None:
    assert str(decode_error(payload)) == f"$: expected a JSON object, got {kind}"


def test_oversized_payload_is_rejected_before_it_is_parsed() -> None:
    payload = b"{" * 2000  # not JSON either: the size check must come first

    error = decode_error_with_limit(payload, max_bytes=1024)

    assert str(error) == "$: payload is 2000 bytes, over the 1024-byte limit"


def test_payload_at_the_limit_is_accepted() -> None:
    payload = raw(message("write_off"))

    assert decode_event(payload, max_bytes=len(payload)).type == "write_off"


def test_default_size_limit_is_512_kib_the_workers_own_default() -> None:
    from config.settings import Settings

    payload = raw(message("collection_note", text="x" * (512 * 1024)))

    assert str(decode_error(payload)).startswith("$: payload is ")
    assert MAX_EVENT_BYTES == Settings().max_event_bytes == 512 * 1024


def test_nested_error_is_named_by_its_dotted_path() -> None:
    schedule = [dict(line) for line in SCHEDULE]
    schedule[2]["due_date"] = 20240601

    error = decode_error(message("loan_disbursed", schedule=schedule))

    assert reasons(error) == {
        "schedule.2.due_date": "expected an ISO-8601 date YYYY-MM-DD, got integer"
    }


def test_timestamp_is_not_accepted_as_a_due_date() -> None:
    schedule = [dict(line) for line in SCHEDULE]
    schedule[0]["due_date"] = "2024-04-01T00:00:00"

    error = decode_error(message("restructure", schedule=schedule))

    assert list(reasons(error)) == ["schedule.0.due_date"]


def test_impossible_calendar_date_is_rejected() -> None:
    error = decode_error(message("installment_due", due_date="2024-02-30"))

    assert reasons(error) == {"due_date": "not a valid calendar date YYYY-MM-DD"}


def test_schedule_with_a_gap_in_sequence_is_rejected() -> None:
    schedule = [dict(line) for line in SCHEDULE]
    schedule[1]["seq"] = 3

    error = decode_error(message("restructure", schedule=schedule))

    assert reasons(error) == {"schedule": "seq must run 1, 2, 3… in order; item 1 has seq 3"}


def test_schedule_with_due_dates_out_of_order_is_rejected() -> None:
    schedule = [dict(line) for line in SCHEDULE]
    schedule[2]["due_date"] = "2024-05-01"

    error = decode_error(message("restructure", schedule=schedule))

    assert reasons(error) == {
        "schedule": "due dates must increase; item 2 is due on or before item 1"
    }


def test_empty_schedule_is_rejected() -> None:
    error = decode_error(message("restructure", schedule=[]))

    assert reasons(error) == {"schedule": "must have at least 1 item(s), got 0"}


def test_disbursal_schedule_must_repay_the_principal() -> None:
    error = decode_error(message("loan_disbursed", principal=300001))

    assert reasons(error) == {
        "schedule": "installment principals add up to 300000, not the principal 300001"
    }


@pytest.mark.parametrize(
    "identifier",
    ["11010519491231002X", "110105491231002", "13812345678", "+8613812345678", "li@example.com"],
)
def test_borrower_id_shaped_like_a_personal_identifier_is_rejected_unechoed(
    identifier: str,
) -> None:
    error = decode_error(message("write_off", borrower_id=identifier))

    assert list(reasons(error)) == ["borrower_id"]
    assert identifier not in str(error)


@pytest.mark.parametrize(
    "reference",
    ["hmac-sha256:" + "ab" * 32, "masked:138****5678", "masked:l****@example.com"],
)
def test_hashed_or_masked_contact_value_is_accepted(reference: str) -> None:
    event = decode_event(raw(message("contact_change", new_value_ref=reference)))

    assert event.type == "contact_change"
    assert event.new_value_ref == reference


@pytest.mark.parametrize(
    "reference", ["13812345678", "sha256:" + "ab" * 32, "hmac-sha256:short", "masked:138*5678"]
)
def test_clear_text_contact_value_is_rejected_unechoed(reference: str) -> None:
    error = decode_error(message("contact_change", new_value_ref=reference))

    assert list(reasons(error)) == ["new_value_ref"]
    assert "clear text is refused" in str(error)
    assert reference not in str(error)


def test_promise_to_pay_needs_both_day_and_amount() -> None:
    error = decode_error(message("collection_note", promise_to_pay={"date": "2024-04-15"}))

    assert reasons(error) == {"promise_to_pay.amount": "field required"}


def test_collection_note_without_a_promise_is_valid() -> None:
    data = message("collection_note")
    del data["promise_to_pay"]

    event = decode_event(raw(data))

    assert event.type == "collection_note"
    assert event.promise_to_pay is None


def test_note_label_intent_must_be_one_of_the_model_labels() -> None:
    error = decode_error(message("note_labelled", intent="angry"))

    assert reasons(error) == {
        "intent": "expected 'promise_to_pay', 'hardship', 'dispute', 'refusal', 'unreachable' "
        "or 'other', "
        "got 'angry'"
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text": "x" * 10_001}, "text"),
        ({"note_event_id": "coll 3381"}, "note_event_id"),
        ({"note_event_id": ""}, "note_event_id"),
        ({"labelled_by": "collections qa"}, "labelled_by"),
        ({"intent": None}, "intent"),
    ],
)
def test_bad_note_label_fields_are_named(changes: dict[str, Any], field: str) -> None:
    error = decode_error(message("note_labelled", **changes))

    assert list(reasons(error)) == [field]
    assert error.event_type == "note_labelled"


def test_note_label_without_its_text_is_refused() -> None:
    data = message("note_labelled")
    del data["text"]

    assert str(decode_error(data)) == "text: field required"


def test_every_bad_field_is_reported_at_once() -> None:
    error = decode_error(
        message("repayment_received", amount=1.5, kind="most", channel="", color="red")
    )

    assert set(reasons(error)) == {"amount", "kind", "channel", "color"}


def test_error_carries_event_loan_and_type_when_they_were_readable() -> None:
    error = decode_error(message("write_off", amount=-5))

    assert (error.event_id, error.loan_id, error.event_type) == (
        "evt-0001",
        "L-2024-000123",
        "write_off",
    )


def test_error_leaves_out_identifiers_that_are_not_strings() -> None:
    error = decode_error(message("write_off", event_id=17, loan_id=None))

    assert (error.event_id, error.loan_id) == (None, None)


def test_field_errors_are_frozen_and_held_in_a_tuple() -> None:
    error = decode_error(message("write_off", amount=-5))

    assert isinstance(error.errors, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        error.errors[0].reason = "fine"  # type: ignore[misc]


def test_field_errors_serialise_for_the_dead_letter_record() -> None:
    error = decode_error(message("write_off", event_time="2024-03-01T09:30:00"))

    assert orjson.loads(orjson.dumps(error.errors)) == [
        {"field": "event_time", "reason": "naive datetime, timezone required"}
    ]


def test_decode_error_belongs_to_the_loanwatch_error_tree() -> None:
    error = decode_error(b"nope")

    assert isinstance(error, RulesError)
    assert isinstance(error, LoanwatchError)


def test_decode_error_survives_pickling() -> None:
    error = decode_error(message("write_off", amount=-5))

    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object

    assert (copy.errors, copy.event_id, copy.loan_id, str(copy)) == (
        error.errors,
        error.event_id,
        error.loan_id,
        str(error),
    )


def test_error_message_shows_the_first_ten_problems_and_counts_the_rest() -> None:
    errors = [FieldError(f"f{index}", "bad") for index in range(12)]

    text = str(EventDecodeError(errors))

    assert text.startswith("f0: bad; f1: bad")
    assert text.endswith("f9: bad; (+2 more)")


def test_decode_error_without_any_field_error_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one FieldError"):
        EventDecodeError([])


@pytest.mark.parametrize(
    ("event_time", "year"),
    [
        ("0001-01-01T00:00:00+08:00", 1),
        ("9999-12-31T23:59:59+08:00", 9999),
        ("2204-03-01T09:30:00+08:00", 2204),
        ("1970-01-01T23:59:59+00:00", 1970),
    ],
)
def test_event_time_outside_1970_to_2099_is_refused_naming_the_field(
    event_time: str, year: int
) -> None:
    error = decode_error(message("write_off", event_time=event_time))

    assert reasons(error) == {
        "event_time": f"must be between 1970-01-02 and 2099-12-31, got year {year}"
    }


@pytest.mark.parametrize("event_time", ["1970-01-02T00:00:00+00:00", "2099-12-31T23:59:59Z"])
def test_event_time_at_the_ends_of_the_span_is_accepted(event_time: str) -> None:
    assert decode_event(raw(message("write_off", event_time=event_time))).event_time.year in (
        1970,
        2099,
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"due_date": "9999-12-31"}, "due_date"),
        ({"due_date": "0001-01-01"}, "due_date"),
    ],
)
def test_due_date_outside_the_span_is_refused(changes: dict[str, Any], field: str) -> None:
    error = decode_error(message("installment_due", **changes))

    assert reasons(error)[field].startswith("must be between 1970-01-02 and 2099-12-31")


def test_promise_date_in_year_9999_is_refused_by_its_path() -> None:
    note = message("collection_note", promise_to_pay={"date": "9999-12-31", "amount": 1})

    assert list(reasons(decode_error(note))) == ["promise_to_pay.date"]


@pytest.mark.parametrize(
    "loan_id",
    ["L\x001", "L\u202e1", "L\u200b1", "L\u200f1", "L\ue0001", "L\x7f1"],
    ids=["nul", "right-to-left-override", "zero-width-space", "rtl-mark", "private-use", "del"],
)
def test_ids_with_control_bidirectional_or_invisible_characters_are_refused(
    loan_id: str,
) -> None:
    error = decode_error(message("write_off", loan_id=loan_id))

    assert reasons(error) == {
        "loan_id": "must be printable, without whitespace: no control, bidirectional, "
        "zero-width or private-use characters"
    }
    assert error.loan_id is None  # never copied into the dead letter's headers or logs


def test_codes_with_invisible_characters_are_refused() -> None:
    error = decode_error(message("write_off", source="core\u200bbanking"))

    assert list(reasons(error)) == ["source"]


def test_ids_in_any_script_are_accepted() -> None:
    assert decode_event(raw(message("write_off", loan_id="贷款-2024-000123"))).loan_id == (
        "贷款-2024-000123"
    )


def test_an_event_keyed_by_its_loan_id_passes_the_key_check() -> None:
    event = decode_event(raw(message("write_off")))

    check_key(event, b"L-2024-000123")


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (None, "missing; events must be keyed by loan_id"),
        (b"", "missing; events must be keyed by loan_id"),
        (
            b"L-2024-000999",
            "message key 'L-2024-000999' is not the event's loan_id 'L-2024-000123'; "
            "events must be keyed by loan_id",
        ),
        (
            b"\xff\xfe",
            "message key '\ufffd\ufffd' is not the event's loan_id 'L-2024-000123'; "
            "events must be keyed by loan_id",
        ),
    ],
)
def test_a_missing_or_other_key_is_refused_naming_the_key(key: bytes | None, reason: str) -> None:
    event = decode_event(raw(message("write_off")))

    with pytest.raises(EventDecodeError) as caught:
        check_key(event, key)

    assert reasons(caught.value) == {"key": reason}
    assert (caught.value.event_id, caught.value.loan_id) == ("evt-0001", "L-2024-000123")


@pytest.mark.parametrize(
    ("name", "shown"), [("", '""'), ("a.b", '"a.b"'), ("\x00", '"\\u0000"'), ("k" * 100, None)]
)
def test_an_odd_extra_field_is_named_quoted_and_cut(name: str, shown: str | None) -> None:
    error = decode_error({**message("write_off"), name: 1})

    [field] = reasons(error)
    assert field == (shown or f'"{"k" * 64}"')
