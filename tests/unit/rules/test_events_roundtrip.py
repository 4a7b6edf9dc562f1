"""Property: any valid event survives encode → decode unchanged, byte for byte."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from rules import (
    MAX_EVENT_BYTES,
    AccountTransaction,
    CollectionNote,
    Event,
    Installment,
    LoanDisbursed,
    PromiseToPay,
    RepaymentReceived,
    decode_event,
    encode_event,
)
from rules.fields import MAX_MINOR_UNITS

# Identifiers: printable, no whitespace, and never shaped like a phone or ID number.
refs = st.from_regex(r"[a-z]{1,3}-[A-Za-z0-9_.:-]{1,40}", fullmatch=True)
labels = st.from_regex(r"[a-z][a-z0-9_-]{0,30}", fullmatch=True)
money = st.integers(min_value=1, max_value=MAX_MINOR_UNITS)
signed_money = st.integers(min_value=-MAX_MINOR_UNITS, max_value=MAX_MINOR_UNITS)
currencies = st.from_regex(r"[A-Z]{3}", fullmatch=True)
# Any Unicode a JSON string can carry (no lone surrogates), with something visible in it.
free_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=200
).filter(lambda text: not text.isspace())
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
event_times = st.builds(
    lambda moment, zone: moment.replace(tzinfo=UTC).astimezone(zone),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),  # noqa: DTZ001
    offsets,
)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


def envelopes() -> dict[str, st.SearchStrategy[object]]:
    return {
        "event_id": refs,
        "loan_id": refs,
        "borrower_id": refs,
        "event_time": event_times,
        "source": labels,
        "schema_version": st.just(1),
    }


@st.composite
def schedules(draw: st.DrawFn) -> tuple[Installment, ...]:
    first = draw(days)
    gaps = draw(st.lists(st.integers(min_value=1, max_value=62), min_size=1, max_size=36))
    lines = []
    due = first
    for seq, gap in enumerate(gaps, start=1):
        lines.append(
            Installment(
                seq=seq,
                due_date=due,
                principal=draw(st.integers(min_value=0, max_value=10**12)),
                interest=draw(st.integers(min_value=0, max_value=10**10)),
                fees=draw(st.integers(min_value=0, max_value=10**8)),
            )
        )
        due += timedelta(days=gap)
    return tuple(lines)


@st.composite
def disbursals(draw: st.DrawFn) -> LoanDisbursed:
    schedule = draw(schedules())
    principal = sum(line.principal for line in schedule)
    if principal == 0:  # a loan lends something: put it on the first installment
        schedule = (schedule[0].model_copy(update={"principal": 1}), *schedule[1:])
        principal = 1
    return draw(
        st.builds(
            LoanDisbursed,
            **envelopes(),
            principal=st.just(principal),
            currency=currencies,
            product=labels,
            disbursed_account=refs,
            interest_rate_bps=st.integers(min_value=0, max_value=100_000),
            schedule=st.just(schedule),
        )
    )


repayments = st.builds(
    RepaymentReceived,
    **envelopes(),
    amount=money,
    kind=st.sampled_from(["full", "partial", "early"]),
    payer_account=refs,
    payer_is_third_party=st.booleans(),
    channel=labels,
)

transactions = st.builds(
    AccountTransaction,
    **envelopes(),
    account=refs,
    direction=st.sampled_from(["in", "out"]),
    amount=money,
    currency=currencies,
    counterparty_category=st.sampled_from(["salary", "securities", "property", "other_lender"]),
    balance_after=signed_money,
)

notes = st.builds(
    CollectionNote,
    **envelopes(),
    text=free_text,
    author_team=labels,
    promise_to_pay=st.none() | st.builds(PromiseToPay, date=days, amount=money),
)

events = st.one_of(disbursals(), repayments, transactions, notes)


@given(events)
def test_encoded_event_decodes_to_an_equal_event(event: Event) -> None:
    assert decode_event(encode_event(event)) == event


@given(events)
def test_re_encoding_a_decoded_event_gives_the_same_bytes(event: Event) -> None:
    encoded = encode_event(event)

    assert len(encoded) <= MAX_EVENT_BYTES
    assert encode_event(decode_event(encoded)) == encoded


@given(events)
def test_round_trip_keeps_the_instant_and_the_offset(event: Event) -> None:
    decoded = decode_event(encode_event(event))

    assert decoded.event_time == event.event_time
    assert decoded.event_time.utcoffset() == event.event_time.utcoffset()
