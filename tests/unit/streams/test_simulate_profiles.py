"""Each behaviour profile shows up in the events, judged from the events alone."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from itertools import accumulate

import pytest

from rules import Event
from streams.simulate import DIVERSION_CATEGORIES, BookSpec, LoanBook, LoanLabel, Profile

SPEC = BookSpec(loans=900, months=12, seed=2024)


class Book:
    def __init__(self) -> None:
        self.labels: dict[str, LoanLabel] = {}
        self.events: dict[str, list[Event]] = defaultdict(list)
        book = LoanBook(SPEC)
        self.end = book.end_ts
        for event in book.events(
            on_label=lambda label: self.labels.__setitem__(label.loan_id, label)
        ):
            self.events[event.loan_id].append(event)

    def loans(self, profile: Profile) -> list[list[Event]]:
        found = [self.events[i] for i, label in self.labels.items() if label.profile == profile]
        assert len(found) >= 15, f"too few {profile} loans to judge"
        return found


@pytest.fixture(scope="module")
def book() -> Book:
    return Book()


def _local_day(moment: datetime) -> int:
    return (moment.astimezone(_CST).date() - _EPOCH).days


_CST = datetime.fromisoformat("2024-01-01T00:00:00+08:00").tzinfo
_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+08:00").date()


def _disbursed(events: list[Event]) -> Event:
    assert events[0].type == "loan_disbursed"
    return events[0]


def _net_repayments(events: list[Event]) -> list[Event]:
    reversed_ids = {e.reversed_event_id for e in events if e.type == "repayment_reversed"}
    return [e for e in events if e.type == "repayment_received" and e.event_id not in reversed_ids]


def _paid_by_due_date(events: list[Event], last_day: int) -> list[bool]:
    """For each installment due in the period: was it fully paid by the end of its due day?"""
    loan = _disbursed(events)
    payments = [(_local_day(e.event_time), e.amount) for e in _net_repayments(events)]
    dues = list(accumulate(i.principal + i.interest + i.fees for i in loan.schedule))
    result = []
    for line, due_total in zip(loan.schedule, dues, strict=True):
        due_day = (line.due_date - _EPOCH).days
        if due_day > last_day:
            break
        paid = sum(amount for day, amount in payments if day <= due_day)
        result.append(paid >= due_total)
    return result


def test_good_payers_pay_every_installment_by_its_due_date(book: Book) -> None:
    last_day = _local_day(datetime.fromtimestamp(book.end - 1, _CST))
    checked = 0
    for events in book.loans(Profile.GOOD_PAYER):
        on_time = _paid_by_due_date(events, last_day)
        assert all(on_time), events[0].loan_id
        checked += len(on_time)
    assert checked > 1_000


def test_good_payers_sometimes_pay_early_and_bounced_payments_are_paid_again(book: Book) -> None:
    loans = book.loans(Profile.GOOD_PAYER)
    kinds = {e.kind for events in loans for e in events if e.type == "repayment_received"}
    assert {"full", "early"} <= kinds
    bounced = 0
    for events in loans:
        for reversal in (e for e in events if e.type == "repayment_reversed"):
            bounced += 1
            original = next(e for e in events if e.event_id == reversal.reversed_event_id)
            again = [
                e
                for e in events
                if e.type == "repayment_received"
                and e.event_time > reversal.event_time
                and e.amount == original.amount
            ]
            assert again and again[0].event_time - reversal.event_time < timedelta(days=2)
    assert bounced > 0


def test_late_payers_are_late_partial_sometimes_and_always_cure(book: Book) -> None:
    last_day = _local_day(datetime.fromtimestamp(book.end - 1, _CST))
    late = partial = 0
    for events in book.loans(Profile.LATE_PAYER):
        on_time = _paid_by_due_date(events, last_day)
        late += on_time.count(False)
        partial += any(e.type == "repayment_received" and e.kind == "partial" for e in events)
        # Cured: everything due 25+ days before the end is paid in full by then.
        loan = _disbursed(events)
        cutoff = datetime.fromtimestamp(book.end, _CST) - timedelta(days=25)
        due = sum(
            i.principal + i.interest + i.fees for i in loan.schedule if i.due_date <= cutoff.date()
        )
        assert sum(e.amount for e in _net_repayments(events)) >= due, loan.loan_id
    assert late > 100
    assert partial > 10


def test_fund_diversion_moves_a_large_share_out_within_days(book: Book) -> None:
    for events in book.loans(Profile.FUND_DIVERSION):
        loan = _disbursed(events)
        soon = loan.event_time + timedelta(days=8)
        diverted = [
            e
            for e in events
            if e.type == "account_transaction"
            and e.direction == "out"
            and e.counterparty_category in DIVERSION_CATEGORIES
            and e.event_time <= soon
        ]
        assert diverted, loan.loan_id
        assert max(e.amount for e in diverted) >= 0.3 * loan.principal


def test_good_payers_never_send_money_to_diversion_categories(book: Book) -> None:
    for events in book.loans(Profile.GOOD_PAYER):
        assert not any(
            e.type == "account_transaction" and e.counterparty_category in DIVERSION_CATEGORIES
            for e in events
        )


def test_strategic_defaulters_stop_paying_while_money_keeps_flowing(book: Book) -> None:
    judged = 0
    for events in book.loans(Profile.STRATEGIC_DEFAULT):
        loan = _disbursed(events)
        paid = _net_repayments(events)
        assert paid, loan.loan_id  # they pay a few first
        last_paid = paid[-1].event_time
        unpaid_due = [i for i in loan.schedule if i.due_date > last_paid.date()]
        end = datetime.fromtimestamp(book.end, _CST)
        if not unpaid_due or unpaid_due[0].due_date + timedelta(days=40) > end.date():
            continue
        judged += 1
        after = [e for e in events if e.event_time > last_paid]
        assert not any(e.type == "repayment_received" for e in after)
        assert any(e.type == "account_transaction" and e.direction == "in" for e in after)
        assert any(e.type == "account_transaction" and e.direction == "out" for e in after)
        assert any(e.type == "collection_note" for e in after)
    assert judged >= 15


def test_written_off_loans_were_at_least_180_days_past_due(book: Book) -> None:
    seen = 0
    for events in book.events.values():
        write_off = next((e for e in events if e.type == "write_off"), None)
        if write_off is None:
            continue
        seen += 1
        assert events[-1] is write_off  # monitoring of the loan ends there
        loan = _disbursed(events)
        paid = sum(e.amount for e in _net_repayments(events))
        dues = accumulate(i.principal + i.interest + i.fees for i in loan.schedule)
        first_unpaid = next(i for i, d in zip(loan.schedule, dues, strict=True) if d > paid)
        assert (write_off.event_time.date() - first_unpaid.due_date).days >= 180
    assert seen >= 5


def test_fraud_changes_contacts_at_once_never_pays_and_cannot_be_reached(book: Book) -> None:
    for events in book.loans(Profile.FRAUD):
        loan = _disbursed(events)
        phones = [e for e in events if e.type == "contact_change" and e.changed == "phone"]
        assert phones and phones[0].event_time - loan.event_time <= timedelta(days=4)
        assert not any(e.type == "repayment_received" for e in events)
        notes = [e.text for e in events if e.type == "collection_note"]
        assert all("unreachable" in t or "cannot be reached" in t for t in notes)


def test_multi_lenders_repay_other_lenders_and_the_bureau_sees_a_surge(book: Book) -> None:
    for events in book.loans(Profile.MULTI_LENDER):
        loan = _disbursed(events)
        others = [
            e.event_time
            for e in events
            if e.type == "account_transaction"
            and e.direction == "out"
            and e.counterparty_category == "other_lender"
        ]
        # Several within some 30-day span.
        assert any(
            sum(1 for t in others if start <= t < start + timedelta(days=30)) >= 3
            for start in others
        ), loan.loan_id
        reports = [e for e in events if e.type == "bureau_report"]
        if loan.event_time + timedelta(days=95) < datetime.fromtimestamp(book.end, _CST):
            assert any(r.inquiries >= 6 for r in reports), loan.loan_id


def test_hardship_loans_lose_income_then_catch_up_or_are_restructured(book: Book) -> None:
    restructured = caught_up = 0
    for events in book.loans(Profile.HARDSHIP_CURE):
        loan = _disbursed(events)
        salary = [
            e.event_time
            for e in events
            if e.type == "account_transaction" and e.counterparty_category == "salary"
        ]
        if len(salary) >= 2:  # salaried borrowers: at least one payday goes missing
            gaps = [b - a for a, b in zip(salary, salary[1:], strict=False)]
            end = datetime.fromtimestamp(book.end, _CST)
            assert max(gaps) > timedelta(days=40) or end - salary[-1] > timedelta(days=40)
        restructure = next((e for e in events if e.type == "restructure"), None)
        if restructure is not None:
            restructured += 1
            paid = sum(
                e.amount for e in _net_repayments(events) if e.event_time < restructure.event_time
            )
            dues = list(accumulate(i.principal + i.interest + i.fees for i in loan.schedule))
            covered = sum(1 for d in dues if d <= paid)
            outstanding = sum(i.principal for i in loan.schedule[covered:])
            assert sum(i.principal for i in restructure.schedule) == outstanding
        elif any(
            e.type == "repayment_received" and e.amount > loan.schedule[0].principal * 1.5
            for e in events
        ):
            caught_up += 1
    assert restructured > 0
    assert caught_up > 0
