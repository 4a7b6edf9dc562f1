"""The clock: a loan wakes exactly when time alone can change it, and a daily tick
touches only loans with something due."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_loan_builders import (
    POLICY,
    Book,
    at,
    canonical,
    lines,
    monthly,
    open_loan,
    step,
    tick,
)

from rules.clock import DueIndex, next_wakeup
from rules.events import Event
from rules.loan import LoanState

D = date


def test_a_current_loan_wakes_at_the_next_cut_off() -> None:
    loan, book = open_loan(monthly(D(2024, 2, 10), 3, 1000, 50), D(2024, 1, 10))

    assert next_wakeup(loan, POLICY) == D(2024, 2, 14)
    step(loan, book.repay(at(D(2024, 2, 9)), 1050))
    assert next_wakeup(loan, POLICY) == D(2024, 3, 14)
    step(loan, book.repay(at(D(2024, 2, 9), 11), 1050))  # the second paid ahead
    assert next_wakeup(loan, POLICY) == D(2024, 4, 14)


def test_a_late_loan_wakes_at_each_mark_bucket_and_class_boundary_then_never() -> None:
    loan, _ = open_loan(lines((D(2024, 2, 10), 1000, 0, 0)), D(2024, 1, 10))
    dpds = []
    wake = next_wakeup(loan, POLICY)
    while wake is not None:
        tick(loan, wake)
        dpds.append(loan.dpd)
        wake = next_wakeup(loan, POLICY)

    assert dpds == [4, 8, 30, 31, 60, 61, 90, 91, 121, 151, 181, 271, 361]
    assert (loan.bucket, loan.klass) == ("M6+", "loss")


def test_callers_may_add_their_own_dpd_marks() -> None:
    loan, _ = open_loan(lines((D(2024, 2, 10), 1000, 0, 0)), D(2024, 1, 10))
    tick(loan, D(2024, 2, 18))  # DPD 8

    assert next_wakeup(loan, POLICY) == D(2024, 3, 11)  # DPD 30
    assert next_wakeup(loan, POLICY, dpd_marks=(15, 3)) == D(2024, 2, 25)  # DPD 15


def test_observation_end_and_promise_lapse_are_wake_ups() -> None:
    loan, book = open_loan(lines((D(2024, 2, 10), 1000, 0, 0)), D(2024, 1, 10))
    step(loan, book.restructure(at(D(2024, 1, 20)), lines((D(2024, 12, 1), 1000, 5, 0)), 2))

    assert next_wakeup(loan, POLICY) == D(2024, 3, 20)  # observation ends
    step(loan, book.note(at(D(2024, 1, 21)), (D(2024, 2, 1), 500)))
    assert next_wakeup(loan, POLICY) == D(2024, 2, 3)  # 1 Feb + 1 day of grace has passed


def test_closed_and_written_off_loans_never_wake() -> None:
    paid, book = open_loan(lines((D(2024, 2, 10), 1000, 0, 0)), D(2024, 1, 10))
    step(paid, book.repay(at(D(2024, 2, 1)), 1000))
    gone, book = open_loan(lines((D(2024, 2, 10), 1000, 0, 0)), D(2024, 1, 10), Book("L-2"))
    step(gone, book.write_off(at(D(2024, 6, 1)), 1000))

    assert (paid.status, next_wakeup(paid, POLICY)) == ("closed", None)
    assert (gone.status, next_wakeup(gone, POLICY)) == ("written_off", None)


@st.composite
def repayments(draw: st.DrawFn) -> list[Event]:
    book = Book()
    events: list[Event] = []
    for _ in range(draw(st.integers(0, 10))):
        when = at(D(2024, 1, 11) + timedelta(days=draw(st.integers(0, 240))))
        if draw(st.integers(0, 4)) == 0:
            promised = when.date() + timedelta(days=draw(st.integers(0, 10)))
            events.append(book.note(when, (promised, draw(st.integers(1, 3000)))))
        else:
            events.append(book.repay(when, draw(st.integers(1, 4000))))
    return sorted(events, key=lambda e: e.event_time)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(repayments())
def test_waking_only_at_wake_ups_misses_nothing_daily_ticks_would_see(
    events: list[Event],
) -> None:
    schedule = monthly(D(2024, 2, 10), 6, 1000, 50)
    end = D(2024, 12, 31)
    daily, _ = open_loan(schedule, D(2024, 1, 10))
    woken, _ = open_loan(schedule, D(2024, 1, 10))
    by_day: dict[date, list[Event]] = {}
    for event in events:
        by_day.setdefault(event.event_time.date(), []).append(event)

    day = D(2024, 1, 11)
    while day <= end:
        tick(daily, day)
        for event in by_day.get(day, []):
            step(daily, event)
        day += timedelta(days=1)

    pending = list(events)
    wake = next_wakeup(woken, POLICY)
    while True:
        next_event = pending[0].event_time.date() if pending else end + timedelta(days=1)
        if wake is not None and wake <= min(next_event, end):
            tick(woken, wake)
        elif pending:
            step(woken, pending.pop(0))
        else:
            break
        wake = next_wakeup(woken, POLICY)
    tick(woken, end)

    assert woken.drain_transitions() == daily.drain_transitions()
    assert canonical(woken) == canonical(daily)


def test_a_quiet_day_over_ten_thousand_loans_visits_none_of_them() -> None:
    index = DueIndex()
    loans: dict[str, LoanState] = {}
    for n in range(10_000):
        first_due = D(2024, 3, 1) + timedelta(days=n % 20)
        loan, _ = open_loan(monthly(first_due, 3, 1000, 10), D(2024, 2, 1), Book(f"L-{n}"))
        loans[loan.loan_id] = loan
        index.set(loan.loan_id, next_wakeup(loan, POLICY))
    visits = 0

    def daily_tick(today: date) -> None:
        nonlocal visits
        for loan_id in index.pop_due(today):
            visits += 1
            loan = loans[loan_id]
            tick(loan, today)
            index.set(loan_id, next_wakeup(loan, POLICY))

    daily_tick(D(2024, 3, 4))  # the earliest cut-off is 5 March

    assert (visits, index.examined) == (0, 0)
    daily_tick(D(2024, 3, 5))
    assert visits == index.examined == 500  # the loans first due on 1 March
    assert all(loans[f"L-{n}"].dpd == 4 for n in range(0, 10_000, 20))
    daily_tick(D(2024, 3, 5))
    assert visits == 500  # the same day again: nothing new


def test_due_index_forgets_moved_and_cleared_loans() -> None:
    index = DueIndex()
    index.set("a", D(2024, 1, 5))
    index.set("b", D(2024, 1, 5))
    index.set("a", D(2024, 1, 9))
    index.set("b", None)
    index.set("c", D(2024, 1, 1))

    assert index.get("a") == D(2024, 1, 9) and index.get("b") is None
    assert index.pop_due(D(2024, 1, 8)) == ["c"]
    assert index.pop_due(D(2024, 1, 9)) == ["a"]
    assert len(index) == 0


def test_due_index_heap_stays_bounded_under_constant_rescheduling() -> None:
    index = DueIndex()
    for round_ in range(200):
        for n in range(50):
            index.set(f"L-{n}", D(2024, 1, 1) + timedelta(days=round_ + n))

    assert len(index) == 50
    assert len(index._heap) <= 2 * 50 + 1024


def test_due_index_hands_out_at_most_the_slice_asked_for_earliest_first() -> None:
    index = DueIndex()
    for n in range(10):
        index.set(f"L{n}", date(2026, 3, 10 - n))  # L9 is the earliest
    index.set("L-later", date(2026, 4, 1))
    today = date(2026, 3, 31)
    slices = [index.pop_due(today, 4), index.pop_due(today, 4), index.pop_due(today, 4)]
    assert slices == [["L9", "L8", "L7", "L6"], ["L5", "L4", "L3", "L2"], ["L1", "L0"]]
    assert index.pop_due(today, 4) == [] and len(index) == 1


def test_pop_earliest_hands_out_one_wake_up_day_at_a_time_up_to_a_limit() -> None:
    index = DueIndex()
    index.set("L3", date(2024, 3, 9))
    index.set("L1", date(2024, 3, 5))
    index.set("L2", date(2024, 3, 5))
    index.set("L4", date(2024, 3, 1))
    index.set("L4", date(2024, 3, 20))  # moved: its stale entry on top is skipped
    assert index.pop_earliest(date(2024, 3, 8)) == (date(2024, 3, 5), ["L1", "L2"])
    assert index.pop_earliest(date(2024, 3, 8)) is None  # L3 is due later than the limit
    assert index.pop_earliest(date(2024, 3, 31)) == (date(2024, 3, 9), ["L3"])
    assert index.pop_earliest(date(2024, 3, 31)) == (date(2024, 3, 20), ["L4"])
    assert len(index) == 0 and index.pop_earliest(date(2099, 1, 1)) is None


@given(
    st.dictionaries(
        st.sampled_from([f"L{n}" for n in range(12)]),
        st.dates(date(2024, 1, 1), date(2024, 3, 31)),
    ),
    st.dates(date(2024, 1, 1), date(2024, 4, 30)),
)
def test_pop_earliest_day_by_day_agrees_with_pop_due(wakeups: dict[str, date], until: date) -> None:
    """The event clock's walk (`pop_earliest`) takes the loans the daily loop would, in order."""
    walked, daily = DueIndex(), DueIndex()
    for loan, day in wakeups.items():
        walked.set(loan, day)
        daily.set(loan, day)
    taken: list[str] = []
    while (found := walked.pop_earliest(until)) is not None:
        taken += found[1]
    assert taken == daily.pop_due(until)
