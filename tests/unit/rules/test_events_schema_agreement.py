"""The published event schema and the decoder give every message the same verdict.

A producer validates against docs/schemas/event.json; the worker decodes with
`decode_event`. When the two disagree, a message the producer's validator passed
is dead-lettered (or a schema refuses what the worker takes). These properties
send valid messages with parts broken, and values built at the contract's edges
(integral floats, identity-shaped borrower ids, timestamps in every near-RFC 3339
form, days at the span's ends), through both. The one gap allowed is what JSON
Schema cannot say: a schedule's cross-field rules (seq in order, due dates
increasing, principals adding up to the loan's), which the schema states in words.
`make fuzz` runs them longer and keeps what fails in tests/fuzz_corpus/event_schema/.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from schema_support import problems
from test_events_decode import BODIES, message
from test_events_fuzz import _paths, _set, broken_messages

from rules import EventDecodeError, decode_event

CROSS_FIELD = (
    "seq must run 1, 2, 3",
    "due dates must increase",
    "installment principals add up to",
)
"""Reasons of the decoder's schedule checks, which JSON Schema cannot express."""

DIGITS = "0123456789０１２３４５６７８９٠١٢٣٤٥٦٧٨٩"
"""ASCII, fullwidth and Arabic-Indic digits: Python's \\d and the schema's \\p{Nd}."""


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def verdicts(raw: bytes) -> tuple[str | None, list[str]] | None:
    """(the decoder's refusal or None, the schema's problems), or None when the bytes are
    not JSON to both parsers (a validator never sees them)."""
    try:
        orjson.loads(raw)
        data = json.loads(raw, parse_constant=_no_constants)
    except ValueError:
        return None
    try:
        decode_event(raw)
        refusal = None
    except EventDecodeError as exc:
        refusal = str(exc)
    return refusal, problems("event.json", data)


def check_agreement(raw: bytes) -> None:
    found = verdicts(raw)
    if found is None:
        return
    refusal, schema_problems = found
    if refusal is not None and not schema_problems:
        lines = refusal.splitlines()
        assert all(any(known in line for known in CROSS_FIELD) for line in lines), (
            f"the schema accepts what the decoder refuses: {refusal}"
        )
    assert not (refusal is None and schema_problems), (
        f"the decoder accepts what the schema refuses: {schema_problems}"
    )


digit_runs = st.integers(min_value=10, max_value=18).flatmap(
    lambda n: st.text(alphabet=DIGITS, min_size=n, max_size=n)
)
identities = st.one_of(
    digit_runs,
    st.builds(lambda d: d + "X", st.text(alphabet=DIGITS, min_size=17, max_size=17)),
    st.builds(
        lambda prefix, rest: f"{prefix}1{rest}",
        st.sampled_from(["", "+", "86", "+86", "+8"]),
        st.text(alphabet=DIGITS, min_size=9, max_size=11),
    ),
    st.builds(lambda a, b: f"{a}@{b}", st.text(min_size=0, max_size=5), st.text(max_size=5)),
)
integral_floats = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6).map(float),
    st.sampled_from([-0.0, 1e2, 2.0**53, 2.0**63, -(2.0**63), 1e19, 1e300]),
)
years = st.one_of(
    st.integers(min_value=1969, max_value=1971),
    st.integers(min_value=2098, max_value=2100),
    st.integers(min_value=0, max_value=9999),
)
day_texts = st.builds(
    lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}",
    years,
    st.integers(min_value=0, max_value=13),
    st.integers(min_value=0, max_value=32),
)
time_texts = st.builds(
    lambda day, sep, h, m, s, frac, offset: f"{day}{sep}{h:02d}:{m:02d}{s}{frac}{offset}",
    day_texts,
    st.sampled_from(["T", "t", " ", "_"]),
    st.integers(min_value=0, max_value=24),
    st.integers(min_value=0, max_value=60),
    st.sampled_from(["", ":00", ":59", ":60", ":5"]),
    st.sampled_from(["", ".5", ".123456789", ",5", "."]),
    st.sampled_from(["", "Z", "z", "+08:00", "-23:59", "+24:00", "+0800", "+08", "-00:00"]),
)
edge_values = st.one_of(
    identities,
    integral_floats,
    st.floats(allow_nan=False, allow_infinity=False),
    day_texts,
    time_texts,
    st.integers(min_value=0, max_value=1200).map(str),
)


@st.composite
def edge_messages(draw: st.DrawFn) -> bytes:
    """A valid message of any type with one or two values set at the contract's edges."""
    data = orjson.loads(orjson.dumps(message(draw(st.sampled_from(sorted(BODIES))))))
    for _ in range(draw(st.integers(min_value=1, max_value=2))):
        path = draw(st.sampled_from(_paths(data)))
        _set(data, path, draw(edge_values))
    return json.dumps(data, ensure_ascii=draw(st.booleans())).encode()


@pytest.mark.parametrize("event_type", sorted(BODIES))
def test_every_sample_event_is_valid_to_both(event_type: str) -> None:
    assert verdicts(orjson.dumps(message(event_type))) == (None, [])


@pytest.mark.parametrize(
    ("changes", "accepted"),
    [
        ({"amount": 100.0}, True),
        ({"amount": 100.5}, False),
        ({"schema_version": 1.0}, True),
        ({"borrower_id": "13812345678"}, False),
        ({"borrower_id": "a.b@example.cn"}, False),
        ({"event_time": "1709256600"}, False),
        ({"event_time": "2024-03-01 09:30:00+08:00"}, False),
        ({"event_time": "2024-03-01T09:30+08:00"}, False),
        ({"event_time": "2099-12-31T23:59:59-23:59"}, True),
        ({"event_time": "1970-01-01T23:00:00-08:00"}, False),
    ],
)
def test_the_cases_that_once_disagreed_now_get_one_verdict(
    changes: dict[str, Any], accepted: bool
) -> None:
    found = verdicts(json.dumps(message("write_off", **changes)).encode())

    assert found is not None
    refusal, schema_problems = found
    assert (refusal is None, not schema_problems) == (accepted, accepted)


@pytest.mark.fuzz
@given(raw=edge_messages())
def test_a_message_at_the_contracts_edges_gets_one_verdict(fuzz_corpus: Any, raw: bytes) -> None:
    with fuzz_corpus.watch("event_schema", raw):
        check_agreement(raw)


@pytest.mark.fuzz
@given(raw=broken_messages())
def test_a_broken_message_gets_one_verdict(fuzz_corpus: Any, raw: bytes) -> None:
    with fuzz_corpus.watch("event_schema", raw):
        check_agreement(raw)


def test_kept_inputs_get_one_verdict(fuzz_corpus: Any) -> None:
    for target in ("event_schema", "event"):
        for name, raw in fuzz_corpus.cases(target):
            try:
                check_agreement(raw)
            except AssertionError as exc:  # pragma: no cover - names the file on failure
                raise AssertionError(f"tests/fuzz_corpus/{target}/{name}: {exc}") from exc
