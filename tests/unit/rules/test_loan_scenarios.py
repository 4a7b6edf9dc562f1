"""Hand-worked loans: DPD, bucket and class written out day by day.

Policy is the default: grace 3 days, zone Asia/Shanghai, buckets M0 0 / M1 30 /
M2 60 / ... / M6+, classes special mention from 1 DPD, substandard over 90,
upgrade after 3 installments paid by their cut-off.

Grace, decided: a due date D is in time through day D + 3; at the start of
D + 4 the installment is missed and DPD counts from the due date, so DPD jumps
from 0 to 4 (= grace + 1) that day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
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
    variant,
)

from rules.clock import next_wakeup
from rules.events import Event, InstallmentDue
from rules.loan import Applied, LoanState, Transition, from_disbursement, loan_to_bytes

D = date
Row = tuple[int, str, str]


def walk(
    state: LoanState, first: date, last: date, events: dict[date, list[Event]] | None = None
) -> dict[date, Row]:
    """Tick each day from ``first`` to ``last``, apply that day's events; end-of-day view."""
    events = events or {}
    seen: dict[date, Row] = {}
    day = first
    while day <= last:
        tick(state, day)
        for event in events.get(day, []):
            assert step(state, event) == Applied(), event
        seen[day] = (state.dpd, state.bucket, state.klass)
        day += timedelta(days=1)
    return seen


def only(seen: dict[date, Row], expected: dict[date, Row]) -> dict[date, Row]:
    return {day: seen[day] for day in expected}


THREE = monthly(D(2024, 2, 10), 3, 1000, 50)  # 1050 due on the 10th of Feb, Mar, Apr


def test_on_time_loan_stays_current_every_day_and_closes() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))
    payments: dict[date, list[Event]] = {
        D(2024, 2, 8): [book.repay(at(D(2024, 2, 8)), 1050)],  # two days early
        D(2024, 3, 10): [book.repay(at(D(2024, 3, 10)), 1050)],  # on the due date
        D(2024, 4, 10): [book.repay(at(D(2024, 4, 10), 23, 59), 1050)],
    }

    seen = walk(loan, D(2024, 1, 10), D(2024, 4, 30), payments)

    assert set(seen.values()) == {(0, "M0", "normal")}
    assert loan.status == "closed"
    assert (loan.on_time_streak, loan.last_day_streak) == (3, 2)
    assert loan.outstanding_principal == 0 and loan.credit == 0
    assert loan.features.avg_days_before_due == pytest.approx(2 / 3)
    assert loan.drain_transitions() == []
    assert next_wakeup(loan, POLICY) is None


def test_partial_payment_keeps_loan_in_m1_until_the_rest_arrives() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))
    events: dict[date, list[Event]] = {
        D(2024, 2, 10): [book.repay(at(D(2024, 2, 10)), 500)],
        D(2024, 2, 20): [book.repay(at(D(2024, 2, 20)), 550)],
    }

    seen = walk(loan, D(2024, 2, 9), D(2024, 2, 19), events)

    assert only(
        seen,
        {
            D(2024, 2, 10): (0, "M0", "normal"),
            D(2024, 2, 13): (0, "M0", "normal"),
            D(2024, 2, 14): (4, "M1", "special_mention"),
            D(2024, 2, 19): (9, "M1", "special_mention"),
        },
    ) == {
        D(2024, 2, 10): (0, "M0", "normal"),
        D(2024, 2, 13): (0, "M0", "normal"),
        D(2024, 2, 14): (4, "M1", "special_mention"),
        D(2024, 2, 19): (9, "M1", "special_mention"),
    }
    assert loan.partial_payments == 1
    # 500 paid interest 50 first, then 450 of principal.
    assert (loan.overdue_principal, loan.overdue_interest, loan.overdue_total) == (550, 0, 550)
    assert loan.missed_installments == 1

    seen = walk(loan, D(2024, 2, 20), D(2024, 2, 20), events)

    assert seen[D(2024, 2, 20)] == (0, "M0", "special_mention")  # up only after 3 on time
    assert loan.cured and loan.late_cure_count == 1 and loan.late_cure_streak == 1
    assert loan.partial_payments == 1
    assert loan.overdue_total == 0 and loan.missed_installments == 0


def test_missed_loan_walks_the_buckets_then_cures_and_upgrades_after_three_on_time() -> None:
    loan, book = open_loan(monthly(D(2024, 2, 10), 7, 1000, 50), D(2024, 1, 10))
    events: dict[date, list[Event]] = {
        D(2024, 5, 15): [book.repay(at(D(2024, 5, 15)), 4 * 1050)],
        D(2024, 6, 10): [book.repay(at(D(2024, 6, 10)), 1050)],
        D(2024, 7, 10): [book.repay(at(D(2024, 7, 10)), 1050)],
        D(2024, 8, 10): [book.repay(at(D(2024, 8, 10)), 1050)],
    }
    expected = {
        D(2024, 2, 13): (0, "M0", "normal"),
        D(2024, 2, 14): (4, "M1", "special_mention"),
        D(2024, 3, 11): (30, "M1", "special_mention"),  # 2024 is a leap year: 19 + 11 days
        D(2024, 3, 12): (31, "M2", "special_mention"),
        D(2024, 4, 10): (60, "M2", "special_mention"),
        D(2024, 4, 11): (61, "M3", "special_mention"),
        D(2024, 5, 10): (90, "M3", "special_mention"),
        D(2024, 5, 11): (91, "M4", "substandard"),
        D(2024, 5, 14): (94, "M4", "substandard"),
        D(2024, 5, 15): (0, "M0", "substandard"),  # caught up: current, class held
        D(2024, 6, 10): (0, "M0", "substandard"),  # 1 on time
        D(2024, 7, 10): (0, "M0", "substandard"),  # 2 on time
        D(2024, 8, 10): (0, "M0", "normal"),  # 3 on time: upgrade
    }

    seen = walk(loan, D(2024, 1, 10), D(2024, 8, 31), events)

    assert only(seen, expected) == expected
    assert loan.max_dpd == 95
    assert (loan.late_cure_count, loan.late_cure_streak) == (1, 0)
    assert loan.on_time_streak == 3
    assert [(t.kind, t.from_, t.to, t.on) for t in loan.drain_transitions()] == [
        ("bucket", "M0", "M1", D(2024, 2, 14)),
        ("klass", "normal", "special_mention", D(2024, 2, 14)),
        ("bucket", "M1", "M2", D(2024, 3, 12)),
        ("bucket", "M2", "M3", D(2024, 4, 11)),
        ("bucket", "M3", "M4", D(2024, 5, 11)),
        ("klass", "special_mention", "substandard", D(2024, 5, 11)),
        ("bucket", "M4", "M0", D(2024, 5, 15)),
        ("klass", "substandard", "normal", D(2024, 8, 10)),
    ]


def test_catch_up_counts_four_installments_late_then_cured() -> None:
    loan, book = open_loan(monthly(D(2024, 2, 10), 7, 1000, 50), D(2024, 1, 10))
    tick(loan, D(2024, 5, 15))
    assert loan.missed_installments == 4

    step(loan, book.repay(at(D(2024, 5, 15)), 4 * 1050))

    assert loan.cured
    assert (loan.late_cure_count, loan.late_cure_streak) == (1, 4)
    assert loan.missed_installments == 0


def test_reversal_reopens_what_the_payment_paid() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))
    payment = book.repay(at(D(2024, 2, 9)), 1050)
    events: dict[date, list[Event]] = {
        D(2024, 2, 9): [payment],
        D(2024, 2, 16): [book.reverse(at(D(2024, 2, 16)), payment)],
    }

    seen = walk(loan, D(2024, 2, 9), D(2024, 2, 15), events)
    assert set(seen.values()) == {(0, "M0", "normal")}
    assert loan.on_time_streak == 1

    seen = walk(loan, D(2024, 2, 16), D(2024, 2, 16), events)

    assert seen[D(2024, 2, 16)] == (6, "M1", "special_mention")
    assert loan.installment_missed and loan.bucket_worsened and loan.klass_downgraded
    assert loan.overdue_total == 1050 and loan.on_time_streak == 0
    reversal_id = events[D(2024, 2, 16)][0].event_id
    assert [(t.kind, t.to, t.on, t.event_id) for t in loan.drain_transitions()] == [
        ("bucket", "M1", D(2024, 2, 16), reversal_id),
        ("klass", "special_mention", D(2024, 2, 16), reversal_id),
    ]

    step(loan, book.repay(at(D(2024, 2, 18)), 1050))

    assert (loan.dpd, loan.bucket, loan.cured) == (0, "M0", True)


def test_reversing_twice_or_reversing_the_unknown_is_refused() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))
    payment = book.repay(at(D(2024, 2, 9)), 1050)
    step(loan, payment)
    step(loan, book.reverse(at(D(2024, 2, 10)), payment))
    before = loan_to_bytes(loan)

    again = step(loan, book.reverse(at(D(2024, 2, 11)), payment))
    ghost = book.repay(at(D(2024, 2, 9)), 1, event_id="never-arrived")
    unknown = step(loan, book.reverse(at(D(2024, 2, 11)), ghost))

    assert again.rejected == f"repayment {payment.event_id} is already reversed"
    assert unknown.rejected is not None and "not in the loan's ledger" in unknown.rejected
    assert loan_to_bytes(loan) == before


def test_restructure_floors_at_special_mention_then_upgrades_after_observation() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))
    plan = monthly(D(2024, 6, 20), 6, 500, 20)
    events: dict[date, list[Event]] = {
        D(2024, 5, 20): [book.restructure(at(D(2024, 5, 20)), plan, months=4)],
        D(2024, 6, 20): [book.repay(at(D(2024, 6, 20)), 520)],
        D(2024, 7, 20): [book.repay(at(D(2024, 7, 20)), 520)],
        D(2024, 8, 20): [book.repay(at(D(2024, 8, 20)), 520)],
    }
    expected = {
        D(2024, 5, 19): (99, "M4", "substandard"),
        D(2024, 5, 20): (0, "M0", "substandard"),  # new schedule: current, class held
        D(2024, 6, 20): (0, "M0", "substandard"),  # 1 on time
        D(2024, 7, 20): (0, "M0", "substandard"),  # 2 on time
        D(2024, 8, 20): (0, "M0", "special_mention"),  # 3 on time: up, but to the floor
        D(2024, 9, 19): (0, "M0", "special_mention"),  # last day of observation
        D(2024, 9, 20): (0, "M0", "normal"),  # observation over: the clock upgrades
    }

    seen = walk(loan, D(2024, 5, 19), D(2024, 9, 20), events)

    assert only(seen, expected) == expected
    assert loan.restructured and not loan.in_observation
    assert loan.outstanding_principal == 1500
    assert loan.max_dpd == 100  # the tick at the start of 20 May saw DPD 100, before 10:00
    last = loan.drain_transitions()[-1]
    assert (last.kind, last.to, last.on, last.event_id) == ("klass", "normal", D(2024, 9, 20), None)


def test_restructuring_a_normal_loan_downgrades_it_at_once_to_the_floor() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))
    event = book.restructure(at(D(2024, 1, 20)), monthly(D(2024, 3, 1), 6, 500, 10), months=6)

    step(loan, event)

    assert (loan.klass, loan.klass_downgraded, loan.in_observation) == (
        "special_mention",
        True,
        True,
    )
    assert loan.observation_end == D(2024, 7, 20)
    assert next_wakeup(loan, POLICY) == D(2024, 3, 5)  # the first cut-off of the new plan


def test_events_older_than_a_restructure_are_refused() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))
    step(loan, book.restructure(at(D(2024, 2, 20)), monthly(D(2024, 3, 20), 6, 500, 10), 3))

    refused = step(loan, book.repay(at(D(2024, 2, 19)), 1050))

    assert refused.rejected is not None
    assert "predates the loan's restructure" in refused.rejected


def test_a_late_restructure_is_placed_before_the_repayment_that_followed_it() -> None:
    plan = monthly(D(2024, 6, 20), 6, 500, 20)
    ordered, book = open_loan(THREE, D(2024, 1, 10))
    shuffled, _ = open_loan(THREE, D(2024, 1, 10), book=Book())
    restructure = book.restructure(at(D(2024, 5, 20)), plan, months=4)
    payment = book.repay(at(D(2024, 5, 21)), 520)
    for event in (restructure, payment):
        step(ordered, event)

    step(shuffled, payment)
    applied = step(shuffled, restructure)

    assert applied.late
    assert shuffled.outstanding_principal == 2500  # the payment went to the new plan
    assert (shuffled.dpd, shuffled.bucket, shuffled.restructured) == (0, "M0", True)
    assert loan_to_bytes(shuffled).count(b"restructure") == 0  # folded into the base
    assert canonical(shuffled) == canonical(ordered)


def test_write_off_ends_the_clock_and_later_money_is_recovery() -> None:
    loan, book = open_loan(lines((D(2024, 2, 10), 3000, 0, 0)), D(2024, 1, 10))
    tick(loan, D(2024, 8, 28))
    assert (loan.dpd, loan.bucket, loan.klass) == (200, "M6+", "substandard")

    step(loan, book.write_off(at(D(2024, 8, 28)), 3000))

    assert (loan.status, loan.written_off, loan.klass) == ("written_off", True, "loss")
    assert loan.klass_downgraded
    tick(loan, D(2024, 12, 1))
    assert (loan.dpd, loan.bucket) == (200, "M6+")
    assert next_wakeup(loan, POLICY) is None
    step(loan, book.repay(at(D(2024, 12, 5)), 100))
    assert (loan.recovered, loan.written_off_amount, loan.outstanding_principal) == (
        100,
        3000,
        3000,
    )
    again = step(loan, book.write_off(at(D(2024, 12, 6)), 100))
    assert again.rejected == "loan L-1 is already written off"


@pytest.mark.parametrize(
    ("paid_at_hour", "paid_on", "missed"),
    [((23, 59), D(2024, 2, 13), False), ((0, 30), D(2024, 2, 14), True)],
)
def test_grace_ends_at_midnight_in_the_policy_zone(
    paid_at_hour: tuple[int, int], paid_on: date, missed: bool
) -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))
    expected_before = {
        D(2024, 2, 9): (0, "M0", "normal"),
        D(2024, 2, 10): (0, "M0", "normal"),  # due
        D(2024, 2, 11): (0, "M0", "normal"),
        D(2024, 2, 12): (0, "M0", "normal"),
        D(2024, 2, 13): (0, "M0", "normal"),  # due + grace: last day in time
    }
    assert walk(loan, D(2024, 2, 9), D(2024, 2, 13)) == expected_before

    tick(loan, paid_on)
    assert (loan.dpd, loan.bucket) == ((4, "M1") if missed else (0, "M0"))
    step(loan, book.repay(at(paid_on, *paid_at_hour), 1050))

    assert loan.dpd == 0
    assert loan.max_dpd == (4 if missed else 0)
    assert loan.last_day_streak == (0 if missed else 1)
    assert loan.klass == ("special_mention" if missed else "normal")


def test_a_utc_timestamp_is_judged_on_the_local_day() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))
    tick(loan, D(2024, 2, 13))
    # 16:30 UTC on the 13th is 00:30 on the 14th in Shanghai: one day too late.
    payment = book.repay(datetime(2024, 2, 13, 16, 30, tzinfo=UTC), 1050)

    step(loan, payment)

    assert loan.max_dpd == 4 and loan.late_cure_count == 1


def test_leap_day_due_date_counts_days_across_february() -> None:
    loan, _ = open_loan(lines((D(2028, 2, 29), 1000, 10, 0)), D(2028, 1, 15))
    expected = {
        D(2028, 3, 3): (0, "M0", "normal"),  # 29 Feb + 3 days of grace
        D(2028, 3, 4): (4, "M1", "special_mention"),
        D(2028, 3, 30): (30, "M1", "special_mention"),
        D(2028, 3, 31): (31, "M2", "special_mention"),
        D(2028, 5, 29): (90, "M3", "special_mention"),
        D(2028, 5, 30): (91, "M4", "substandard"),
    }

    assert only(walk(loan, D(2028, 3, 1), D(2028, 5, 31)), expected) == expected


def test_month_end_schedules_count_real_days() -> None:
    schedule = lines(
        (D(2027, 1, 31), 1000, 10, 0),
        (D(2027, 2, 28), 1000, 10, 0),
        (D(2027, 3, 31), 1000, 10, 0),
    )
    loan, _ = open_loan(schedule, D(2027, 1, 1))
    expected = {
        D(2027, 3, 2): (30, "M1", "special_mention"),  # 31 Jan + 28 days of Feb + 2
        D(2027, 3, 3): (31, "M2", "special_mention"),
    }

    assert only(walk(loan, D(2027, 2, 1), D(2027, 3, 3)), expected) == expected
    assert loan.missed_installments == 1
    tick(loan, D(2027, 3, 4))  # 28 Feb + 3 days of grace ended with 3 March
    assert loan.missed_installments == 2


def test_early_payment_settles_ahead_and_overpayment_is_credit() -> None:
    schedule = lines(
        (D(2024, 2, 10), 1000, 50, 10),
        (D(2024, 3, 10), 1000, 50, 0),
        (D(2024, 4, 10), 1000, 50, 0),
    )
    loan, book = open_loan(schedule, D(2024, 1, 10))

    step(loan, book.repay(at(D(2024, 1, 20)), 1500))  # 1060 for the first, 440 ahead

    assert loan.outstanding_principal == 3000 - 1000 - 390
    assert loan.partial_payments == 0 and loan.on_time_streak == 1
    assert loan.next_due_date == D(2024, 3, 10)
    tick(loan, D(2024, 3, 13))
    assert loan.dpd == 0  # the second still owes 610, but is in grace
    tick(loan, D(2024, 3, 14))
    assert (loan.dpd, loan.overdue_principal, loan.overdue_interest) == (4, 610, 0)

    step(loan, book.repay(at(D(2024, 3, 14)), 610 + 1050 + 950))

    assert (loan.status, loan.credit, loan.dpd) == ("closed", 950, 0)
    assert loan.components() == ((10, 150, 3000), (10, 150, 3000))


def test_overpayment_covers_the_next_installment_before_it_falls_due() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))

    step(loan, book.repay(at(D(2024, 2, 10)), 2100))
    walk(loan, D(2024, 2, 11), D(2024, 3, 20))

    assert (loan.dpd, loan.max_dpd, loan.missed_installments) == (0, 0, 0)
    assert loan.on_time_streak == 2
    assert loan.next_due_date == D(2024, 4, 10)


def test_component_waterfall_pays_interest_across_installments_first() -> None:
    by_component = variant(("mode: installment", "mode: component"))
    by_installment = POLICY
    results = []
    for policy in (by_installment, by_component):
        loan, book = open_loan(THREE, D(2024, 1, 10))
        tick(loan, D(2024, 3, 20), policy)
        step(loan, book.repay(at(D(2024, 3, 20)), 600), policy)
        results.append((loan.overdue_interest, loan.overdue_principal))

    assert results == [(50, 1000 + 1000 - 550), (0, 2000 - 500)]


def test_duplicate_event_ids_change_nothing() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))
    payment = book.repay(at(D(2024, 2, 10)), 700, third_party=True)
    note = book.note(at(D(2024, 2, 11)), (D(2024, 2, 20), 350))
    for event in (payment, note):
        step(loan, event)
    loan.begin_step()
    before = loan_to_bytes(loan)

    results = [step(loan, event) for event in (payment, note, payment)]

    assert results == [Applied(duplicate=True)] * 3
    loan.begin_step()
    assert loan_to_bytes(loan) == before
    assert loan.third_party_repayments == 1


def test_a_redelivered_payment_is_found_in_the_ledger_after_the_id_memory_forgot_it() -> None:
    small = variant(("seen_event_ids: 64", "seen_event_ids: 4"))
    loan, book = open_loan(THREE, D(2024, 1, 10), policy=small)
    payment = book.repay(at(D(2024, 2, 10)), 1050)
    step(loan, payment, small)
    for hour in range(11, 17):
        step(loan, book.balance(at(D(2024, 2, 10), hour), 5000), small)
    assert len(loan_to_bytes(loan)) < 1000  # the memory really is 4 ids

    assert step(loan, payment, small).duplicate
    assert loan.components()[1] == (0, 50, 1000)  # paid once


def test_a_late_payment_within_the_window_rewrites_history_in_event_time_order() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))
    tick(loan, D(2024, 2, 15))
    assert (loan.dpd, loan.bucket, loan.max_dpd) == (5, "M1", 5)
    payment = book.repay(at(D(2024, 2, 13), 23, 0), 1050)  # paid in grace, arrived late

    applied = step(loan, payment)

    assert applied == Applied(late=True)
    assert (loan.dpd, loan.bucket, loan.max_dpd, loan.missed_installments) == (0, "M0", 0, 0)
    assert loan.cured and loan.last_day_streak == 1 and loan.late_cure_count == 0
    assert [(t.kind, t.from_, t.to, t.on, t.event_id) for t in loan.drain_transitions()] == [
        ("bucket", "M0", "M1", D(2024, 2, 14), None),
        ("klass", "normal", "special_mention", D(2024, 2, 14), None),
        ("bucket", "M1", "M0", D(2024, 2, 13), payment.event_id),
        ("klass", "special_mention", "normal", D(2024, 2, 13), payment.event_id),
    ]
    in_order, _ = open_loan(THREE, D(2024, 1, 10), book=Book())
    step(in_order, payment)
    tick(in_order, D(2024, 2, 15))
    assert canonical(loan) == canonical(in_order)


def test_two_payments_on_one_day_are_ordered_by_event_time() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))
    second = book.repay(at(D(2024, 2, 10), 15), 1050)
    first = book.repay(at(D(2024, 2, 10), 9), 300)

    step(loan, second)
    applied = step(loan, first)

    assert applied.late
    assert loan.partial_payments == 1  # the 09:00 payment of 300 left the installment open


def test_events_older_than_the_late_window_are_refused_and_change_nothing() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))
    tick(loan, D(2024, 2, 20))
    loan.begin_step()
    before = loan_to_bytes(loan)

    refused = step(loan, book.repay(at(D(2024, 2, 12), 23, 0), 1050))
    inside = book.balance(at(D(2024, 2, 13), 1), 100)  # 6 days 23 hours: still in

    assert refused.rejected is not None
    assert "only events up to 7 days late are applied" in refused.rejected
    assert loan_to_bytes(loan) == before
    assert step(loan, inside) == Applied(late=True)


def test_promise_to_pay_kept_when_paid_by_the_date_plus_grace() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))
    tick(loan, D(2024, 2, 15))
    step(loan, book.note(at(D(2024, 2, 15)), (D(2024, 2, 20), 1050)))
    assert loan.promise_open and loan.promise_deadline == D(2024, 2, 21)
    assert next_wakeup(loan, POLICY) == D(2024, 2, 18)  # DPD 8 comes first

    walk(loan, D(2024, 2, 16), D(2024, 2, 21))
    step(loan, book.repay(at(D(2024, 2, 21), 18), 1050))

    assert not loan.promise_open and loan.promises_kept == 1 and loan.promises_broken == 0


@pytest.mark.parametrize("paid", [0, 500])
def test_promise_to_pay_broken_when_not_enough_arrives_in_time(paid: int) -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))
    step(loan, book.note(at(D(2024, 2, 15)), (D(2024, 2, 20), 1050)))
    if paid:
        step(loan, book.repay(at(D(2024, 2, 19)), paid))
    tick(loan, D(2024, 2, 21))
    assert loan.promise_open and not loan.promise_broken

    tick(loan, D(2024, 2, 22))

    assert loan.promise_broken and loan.promises_broken == 1 and not loan.promise_open


def test_a_promise_for_a_day_already_gone_is_broken_at_once() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))

    step(loan, book.note(at(D(2024, 2, 15)), (D(2024, 2, 1), 1050)))

    assert loan.promise_broken and loan.promises_broken == 1


def test_installment_due_is_the_clock_speaking() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))
    event = InstallmentDue(
        **book._envelope(at(D(2024, 2, 14), 0, 1), None),
        seq=1,
        due_date=D(2024, 2, 10),
        amount_due=1050,
    )

    assert step(loan, event) == Applied()
    assert (loan.dpd, loan.installment_missed) == (4, True)


def test_a_second_disbursement_is_refused() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))

    refused = step(loan, book.disbursed(at(D(2024, 1, 11)), THREE))

    assert refused.rejected == "loan L-1 is already disbursed; a second loan_disbursed is refused"


def test_payments_before_disbursement_are_refused() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))

    refused = step(loan, book.repay(at(D(2024, 1, 10), 9), 100))

    assert refused.rejected is not None and "predates the loan's disbursement" in refused.rejected


def test_third_party_repayments_are_counted() -> None:
    loan, book = open_loan(THREE, D(2024, 1, 10))
    step(loan, book.repay(at(D(2024, 2, 1)), 100, third_party=True))
    step(loan, book.repay(at(D(2024, 2, 2)), 100))

    assert loan.third_party_repayments == 1


def test_days_to_next_due_and_since_disbursement_follow_the_clock() -> None:
    loan, _ = open_loan(THREE, D(2024, 1, 10))
    tick(loan, D(2024, 2, 1))

    assert (loan.days_since_disbursement, loan.days_to_next_due) == (22, 9)
    tick(loan, D(2024, 2, 12))  # the first is past due (in grace): the next due is the second
    assert loan.next_due_date == D(2024, 3, 10)
    assert loan.days_to_next_due == 27


def test_a_loan_disbursed_with_past_due_dates_is_judged_at_once() -> None:
    book = Book()
    event = book.disbursed(at(D(2024, 3, 1)), monthly(D(2024, 1, 1), 3, 1000, 10))
    loan = from_disbursement(event, POLICY)

    assert (loan.dpd, loan.bucket, loan.missed_installments) == (60, "M2", 2)
    assert [t.to for t in loan.drain_transitions()] == ["M2", "special_mention"]


def test_transitions_serialise_with_from_and_to_and_the_stepping_loans_state() -> None:
    book = Book()
    event = book.disbursed(at(D(2024, 3, 1)), monthly(D(2024, 1, 1), 3, 1000, 10))
    loan = from_disbursement(event, POLICY)
    transition = Transition("L-1", "bucket", "M0", "M1", D(2024, 2, 14), None)
    judged = datetime(2024, 3, 1, 16, tzinfo=UTC)

    assert transition.stamped(loan, at(D(2024, 3, 1)), judged).to_dict() == {
        "loan_id": "L-1",
        "kind": "bucket",
        "from": "M0",
        "to": "M1",
        "on": "2024-02-14",
        "event_id": None,
        "borrower_id": loan.borrower_id,
        "dpd": 60,
        "bucket": "M2",
        "klass": "special_mention",
        "event_time": at(D(2024, 3, 1)).astimezone(UTC).isoformat(),
        "produced_at": "2024-03-01T16:00:00+00:00",
    }
    assert transition.to_dict()["dpd"] is None  # the loan alone does not know the step
