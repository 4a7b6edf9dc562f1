"""Fuzzing the door of the stream: any bytes, any key, never a crash or a changed loan.

The worker's whole defence against a hostile or broken producer is that
`decode_event` and `check_key` either accept a message or raise
`EventDecodeError`, and that the core then steps whatever they accepted without
raising. These properties push random bytes and, more productively, valid
messages with one part broken (a field replaced by any JSON value, removed,
added; times and days from year 1 to 9999 with any offset) through the same
path the worker takes. `make fuzz` runs them longer and keeps what fails in
tests/fuzz_corpus/event/.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_events_decode import BODIES, message

from rules import EventDecodeError, check_key, decode_event, encode_event
from rules.core import Engine, LoanRecord
from rules.events import LoanDisbursed
from rules.pack import default_pack
from rules.policy import load_policy
from rules.workflows import load_workflow_policy

ENGINE = Engine(default_pack(), load_policy(), load_workflow_policy())
NOW = datetime(2024, 3, 20, tzinfo=UTC)
LOAN = message("loan_disbursed")["loan_id"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
# Any instant Python can write, with any offset: the extremes once crashed the core.
any_times = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone).isoformat(),
    st.datetimes(),
    offsets,
)
# Near the contract's span and the test's clock, where the bounds are decided.
near_times = st.builds(
    lambda days, zone: (NOW + timedelta(days=days)).astimezone(zone).isoformat(),
    st.floats(min_value=-30_000, max_value=30_000),
    offsets,
)
days = st.dates().map(lambda day: day.isoformat())
odd_ids = st.text(min_size=1, max_size=20) | st.sampled_from(
    ["L\x00", "L\u202e", "\u200b", "贷款-1", "L 1", "x" * 129]
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document that holds a value."""
    found = []
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, value in items:
        found.append((*prefix, key))
        found.extend(_paths(value, (*prefix, key)))
    return found


def _set(data: Any, path: tuple[Any, ...], value: Any, *, remove: bool = False) -> None:
    for part in path[:-1]:
        data = data[part]
    if remove:
        del data[path[-1]]
    else:
        data[path[-1]] = value


@st.composite
def broken_messages(draw: st.DrawFn) -> bytes:
    """A valid message of any type with one to three parts broken."""
    # A deep copy: the samples share their nested lists with the decode tests.
    data = orjson.loads(orjson.dumps(message(draw(st.sampled_from(sorted(BODIES))))))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(data)))
        last = path[-1]
        replacement = draw(
            st.one_of(
                json_values,
                any_times,
                near_times,
                days,
                odd_ids,
                st.integers(min_value=-(2**64), max_value=2**64),
            )
        )
        if draw(st.booleans()) and isinstance(last, str):
            _set(data, path, None, remove=True)
        else:
            _set(data, path, replacement)
        if draw(st.integers(min_value=0, max_value=9)) == 0:
            data[draw(st.text(max_size=10))] = draw(json_values)
    return json.dumps(data).encode()  # the stdlib writes integers past 64 bits too


def _fresh_loan() -> LoanRecord:
    event = decode_event(orjson.dumps(message("loan_disbursed")))
    assert isinstance(event, LoanDisbursed)
    record, result = ENGINE.step(None, event, NOW)
    assert record is not None and not result.rejected
    return record


def check_message(raw: bytes, key: bytes | None) -> None:
    """The worker's path for one message: decode, check the key, step; only refusals raise."""
    try:
        event = decode_event(raw)
    except EventDecodeError as exc:
        assert exc.errors and all(error.field and error.reason for error in exc.errors)
        return
    assert decode_event(encode_event(event)) == event
    try:
        check_key(event, key)
    except EventDecodeError as exc:
        assert [error.field for error in exc.errors] == ["key"]
    record = None if isinstance(event, LoanDisbursed) else _fresh_loan()
    before = record.to_bytes() if record is not None else None
    record_after, result = ENGINE.step(record, event, NOW)
    if result.rejected and record is not None:
        assert record.to_bytes() == before, "a refused event changed the loan"


@pytest.mark.fuzz
@given(raw=st.binary(max_size=600), key=st.none() | st.binary(max_size=20))
def test_any_bytes_are_an_event_or_a_refusal(
    fuzz_corpus: Any, raw: bytes, key: bytes | None
) -> None:
    with fuzz_corpus.watch("event", raw):
        check_message(raw, key)


@pytest.mark.fuzz
@given(raw=broken_messages(), keyed=st.booleans())
def test_a_broken_message_is_refused_naming_a_field_or_stepped_without_error(
    fuzz_corpus: Any, raw: bytes, keyed: bool
) -> None:
    with fuzz_corpus.watch("event", raw):
        check_message(raw, LOAN.encode() if keyed else b"other")


@pytest.mark.fuzz
@given(event_time=st.one_of(any_times, near_times))
def test_any_event_time_is_refused_or_judged(fuzz_corpus: Any, event_time: str) -> None:
    for event_type in ("repayment_received", "loan_disbursed", "collection_note"):
        raw = orjson.dumps(message(event_type, event_time=event_time))
        with fuzz_corpus.watch("event", raw):
            check_message(raw, LOAN.encode())


def test_kept_failing_inputs_are_refusals_or_events(fuzz_corpus: Any) -> None:
    for name, raw in fuzz_corpus.cases("event"):
        try:
            check_message(raw, LOAN.encode())
        except AssertionError as exc:  # pragma: no cover - names the file on failure
            raise AssertionError(f"tests/fuzz_corpus/event/{name}: {exc}") from exc
