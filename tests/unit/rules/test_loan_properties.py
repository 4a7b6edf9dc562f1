"""Properties of the loan state over generated event streams.

- a duplicate changes nothing;
- the same events in any arrival order within the late window give the same loan;
- money is conserved: what was received is paid into the schedule or kept as credit,
  and paid + outstanding == scheduled for every component;
- DPD is never negative, the bucket always matches DPD, the class is never better
  than DPD alone implies;
- ticking day by day and jumping straight to a day give the same loan;
- serialisation round-trips exactly.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_loan_builders import POLICY, Book, at, canonical, lines, open_loan, step, tick

from rules.classify import bucket_of, klass_of_dpd
from rules.events import Event, RepaymentReceived, RepaymentReversed
from rules.loan import LoanState, loan_from_bytes, loan_to_bytes

PROFILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SCHEDULE = lines(
    (date(2024, 2, 10), 1000, 50, 5),
    (date(2024, 3, 10), 1000, 40, 0),
    (date(2024, 4, 10), 1000, 30, 0),
    (date(2024, 5, 10), 1000, 20, 0),
)
DISBURSED = date(2024, 1, 10)
SCHEDULED = (5, 140, 4000)


@st.composite
def streams(draw: st.DrawFn, start: datetime, span_minutes: int, most: int) -> list[Event]:
    """Events of one loan between ``start`` and ``start + span``, in event-time order.

    Each repayment is reversed at most once and never before it was made.
    """
    book = Book()
    moments = sorted(draw(st.lists(st.integers(0, span_minutes), min_size=1, max_size=most)))
    events: list[Event] = []
    payments: list[RepaymentReceived] = []
    for minute in moments:
        when = start + timedelta(minutes=minute)
        kind = draw(
            st.sampled_from(
                ["pay", "pay", "pay", "reverse", "promise", "txn", "balance", "bureau", "contact"]
            )
        )
        if kind == "reverse" and payments:
            target = payments.pop(draw(st.integers(0, len(payments) - 1)))
            events.append(book.reverse(when, target))
        elif kind in ("pay", "reverse"):
            payment = book.repay(when, draw(st.integers(1, 2500)), third_party=draw(st.booleans()))
            payments.append(payment)
            events.append(payment)
        elif kind == "promise":
            promised = when.date() + timedelta(days=draw(st.integers(-2, 5)))
            events.append(book.note(when, (promised, draw(st.integers(1, 2000)))))
        elif kind == "txn":
            events.append(
                book.txn(
                    when,
                    draw(st.sampled_from(["in", "out"])),
                    draw(st.integers(1, 5000)),
                    draw(st.sampled_from(["salary", "other_lender", "securities", "merchant"])),
                    balance_after=draw(st.integers(-1000, 10_000)),
                )
            )
        elif kind == "balance":
            events.append(book.balance(when, draw(st.integers(-1000, 10_000))))
        elif kind == "bureau":
            events.append(book.bureau(when, draw(st.integers(0, 3)), draw(st.integers(0, 20))))
        else:
            events.append(book.contact(when))
    return events


# Six days straddling the first due date (10 Feb) and its cut-off (14 Feb): every
# event is within the 7-day late window of every other.
WINDOW = streams(at(date(2024, 2, 9), 0), 6 * 24 * 60 - 1, 25)
# Five months with events out of order by up to three days.
SEASON = streams(at(date(2024, 1, 11), 0), 150 * 24 * 60, 40)


def fresh() -> LoanState:
    loan, _ = open_loan(SCHEDULE, DISBURSED)
    return loan


def causal_shuffle(events: list[Event], order: list[int]) -> list[Event]:
    """``events`` permuted by ``order``, except a reversal waits for its repayment."""
    shuffled = [events[i] for i in order]
    out: list[Event] = []
    waiting: list[RepaymentReversed] = []
    for event in shuffled:
        if isinstance(event, RepaymentReversed) and not any(
            e.event_id == event.reversed_event_id for e in out
        ):
            waiting.append(event)
            continue
        out.append(event)
        for reversal in [w for w in waiting if w.reversed_event_id == event.event_id]:
            waiting.remove(reversal)
            out.append(reversal)
    return out


def check_invariants(loan: LoanState, received: int) -> None:
    assert loan.dpd >= 0
    assert (loan.bucket_index, loan.bucket) == bucket_of(loan.dpd, POLICY)
    assert loan.klass_index >= klass_of_dpd(loan.dpd, POLICY)
    assert loan.max_dpd >= loan.dpd
    assert (loan.dpd == 0) == (loan.missed_installments == 0)
    scheduled, paid = loan.components()
    assert scheduled == SCHEDULED
    assert all(0 <= p <= s for p, s in zip(paid, scheduled, strict=True))
    assert sum(paid) + loan.credit == received
    assert loan.outstanding_principal + paid[2] == scheduled[2]
    assert 0 <= loan.overdue_total <= sum(scheduled) - sum(paid)
    assert loan.features.outstanding == loan.outstanding_principal
    assert loan.status == ("closed" if paid == scheduled else "active")


def received_by(events: list[Event]) -> int:
    reversed_ids = {e.reversed_event_id for e in events if isinstance(e, RepaymentReversed)}
    return sum(
        e.amount
        for e in events
        if isinstance(e, RepaymentReceived) and e.event_id not in reversed_ids
    )


@PROFILE
@given(WINDOW, st.randoms(use_true_random=False))
def test_arrival_order_within_the_window_does_not_change_the_loan(
    events: list[Event], random: object
) -> None:
    import random as _random

    assert isinstance(random, _random.Random)
    order = list(range(len(events)))
    random.shuffle(order)
    in_order, shuffled = fresh(), fresh()
    tick(in_order, date(2024, 2, 8))
    tick(shuffled, date(2024, 2, 8))

    for event in events:
        assert step(in_order, event).rejected is None
    for event in causal_shuffle(events, order):
        assert step(shuffled, event).rejected is None
    for loan in (in_order, shuffled):
        tick(loan, date(2024, 2, 20))

    assert canonical(shuffled) == canonical(in_order)
    check_invariants(shuffled, received_by(events))


@PROFILE
@given(WINDOW, st.data())
def test_duplicates_change_nothing(events: list[Event], data: st.DataObject) -> None:
    loan = fresh()
    for event in events:
        step(loan, event)
    loan.begin_step()
    before = loan_to_bytes(loan)

    again = data.draw(st.lists(st.sampled_from(events), min_size=1, max_size=10))
    results = [step(loan, event) for event in again]

    assert all(result.duplicate for result in results)
    loan.begin_step()
    assert loan_to_bytes(loan) == before


@PROFILE
@given(SEASON, st.data())
def test_invariants_hold_after_every_step_and_tick(
    events: list[Event], data: st.DataObject
) -> None:
    loan = fresh()
    applied: list[Event] = []
    # Deliver in event-time order with some events held back up to three days.
    pending = list(events)
    while pending:
        index = data.draw(st.integers(0, min(2, len(pending) - 1)))
        event = pending.pop(index)
        result = step(loan, event)
        if result.rejected is None and not result.duplicate:
            applied.append(event)
        check_invariants(loan, received_by(applied))
        if data.draw(st.booleans()):
            tick(loan, loan.today + timedelta(days=data.draw(st.integers(1, 9))))
            check_invariants(loan, received_by(applied))
    assert loan_from_bytes(loan_to_bytes(loan)) == loan


@PROFILE
@given(SEASON)
def test_serialisation_round_trips_exactly(events: list[Event]) -> None:
    loan = fresh()
    for event in events:
        step(loan, event)
        data = loan_to_bytes(loan)
        copy = loan_from_bytes(data)

        assert copy == loan
        assert loan_to_bytes(copy) == data


@PROFILE
@given(SEASON, st.integers(0, 400))
def test_daily_ticks_and_one_jump_give_the_same_loan(events: list[Event], extra: int) -> None:
    daily, jumped = fresh(), fresh()
    for event in events:
        step(daily, event)
        step(jumped, event)
    end = daily.today + timedelta(days=extra)

    day = daily.today
    while day < end:
        day += timedelta(days=1)
        tick(daily, day)
    tick(jumped, end)

    assert canonical(daily) == canonical(jumped)
