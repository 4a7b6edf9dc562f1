"""Builders for loan tests: events of one loan with unique ids, and an engine-like step.

Other loan, clock, classify and feature tests import from here. The tests in this
module check the builders themselves: every event they make passes the wire
contract, so loan tests never rest on events a producer could not send.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from datetime import date, datetime, time
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from rules.decode import decode_event, encode_event
from rules.events import (
    AccountBalance,
    AccountTransaction,
    BureauReport,
    CollateralValuation,
    CollectionNote,
    ContactChange,
    Event,
    LoanDisbursed,
    NoteLabelled,
    RepaymentReceived,
    RepaymentReversed,
    Restructure,
    StatementIssued,
    WriteOff,
)
from rules.loan import (
    Applied,
    LoanState,
    advance,
    apply,
    from_disbursement,
    loan_from_bytes,
    loan_to_bytes,
)
from rules.policy import Policy, load_policy, parse_policy

POLICY = load_policy()
ZONE = ZoneInfo("Asia/Shanghai")


def variant(*replacements: tuple[str, str]) -> Policy:
    """The default policy with lines of its YAML replaced, e.g. ("grace_days: 3", "...: 0")."""
    text = (resources.files("rules") / "policies" / "default.yaml").read_text("utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return parse_policy(text, "variant.yaml")


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """A moment on ``day`` in the policy's zone (Asia/Shanghai)."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE)


def monthly(
    first: date, count: int, principal: int, interest: int, fees: int = 0
) -> list[dict[str, Any]]:
    """``count`` installments due on ``first``'s day of each following month."""
    lines = []
    for i in range(count):
        index = first.month - 1 + i
        due = first.replace(year=first.year + index // 12, month=index % 12 + 1)
        lines.append(_line(i + 1, due, principal, interest, fees))
    return lines


def lines(*rows: tuple[date, int, int, int]) -> list[dict[str, Any]]:
    """Installments from (due date, principal, interest, fees) rows."""
    return [_line(i + 1, *row) for i, row in enumerate(rows)]


def _line(seq: int, due: date, principal: int, interest: int, fees: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "due_date": due,
        "principal": principal,
        "interest": interest,
        "fees": fees,
    }


class Book:
    """Makes the events of one loan; each gets a fresh event id unless one is given."""

    def __init__(self, loan_id: str = "L-1", borrower_id: str = "bw-1") -> None:
        self.loan_id = loan_id
        self.borrower_id = borrower_id
        self.count = 0

    def _envelope(self, when: datetime, event_id: str | None) -> dict[str, Any]:
        self.count += 1
        return {
            "event_id": event_id or f"{self.loan_id}-e{self.count}",
            "loan_id": self.loan_id,
            "borrower_id": self.borrower_id,
            "event_time": when,
            "source": "test",
            "schema_version": 1,
        }

    def disbursed(
        self, when: datetime, schedule: list[dict[str, Any]], *, currency: str = "CNY"
    ) -> LoanDisbursed:
        return LoanDisbursed(
            # Its own id family: a stream built by another Book never collides with it.
            **self._envelope(when, f"{self.loan_id}-disbursed-{self.count + 1}"),
            principal=sum(line["principal"] for line in schedule),
            currency=currency,
            product="cash-loan",
            disbursed_account="acct-1",
            interest_rate_bps=1200,
            schedule=schedule,
        )

    def repay(
        self,
        when: datetime,
        amount: int,
        *,
        third_party: bool = False,
        event_id: str | None = None,
    ) -> RepaymentReceived:
        return RepaymentReceived(
            **self._envelope(when, event_id),
            amount=amount,
            kind="full",
            payer_account="acct-9" if third_party else "acct-1",
            payer_is_third_party=third_party,
            channel="app",
        )

    def reverse(self, when: datetime, payment: RepaymentReceived) -> RepaymentReversed:
        return RepaymentReversed(
            **self._envelope(when, None),
            reversed_event_id=payment.event_id,
            reason="direct debit returned",
        )

    def note(self, when: datetime, promise: tuple[date, int] | None = None) -> CollectionNote:
        return CollectionNote(
            **self._envelope(when, None),
            text="called the borrower",
            author_team="collections-m1",
            promise_to_pay=None if promise is None else {"date": promise[0], "amount": promise[1]},
        )

    def label(self, when: datetime, note: CollectionNote, intent: str = "other") -> NoteLabelled:
        return NoteLabelled(
            **self._envelope(when, None),
            note_event_id=note.event_id,
            intent=intent,
            text=note.text,
            labelled_by="collections-qa",
        )

    def restructure(
        self, when: datetime, schedule: list[dict[str, Any]], months: int
    ) -> Restructure:
        return Restructure(
            **self._envelope(when, None),
            schedule=schedule,
            reason="hardship plan",
            observation_months=months,
        )

    def write_off(self, when: datetime, amount: int) -> WriteOff:
        return WriteOff(**self._envelope(when, None), amount=amount, reason="unrecoverable")

    def txn(
        self,
        when: datetime,
        direction: str,
        amount: int,
        category: str = "merchant",
        *,
        balance_after: int = 0,
        account: str = "acct-1",
        currency: str = "CNY",
    ) -> AccountTransaction:
        return AccountTransaction(
            **self._envelope(when, None),
            account=account,
            direction=direction,
            amount=amount,
            currency=currency,
            counterparty_category=category,
            balance_after=balance_after,
        )

    def balance(
        self, when: datetime, balance: int, *, account: str = "acct-1", currency: str = "CNY"
    ) -> AccountBalance:
        return AccountBalance(
            **self._envelope(when, None), account=account, balance=balance, currency=currency
        )

    def bureau(
        self,
        when: datetime,
        new_delinquencies: int = 0,
        inquiries: int = 0,
        *,
        lawsuit: bool = False,
        enforcement: bool = False,
    ) -> BureauReport:
        return BureauReport(
            **self._envelope(when, None),
            bureau="pboc",
            new_delinquencies=new_delinquencies,
            inquiries=inquiries,
            inquiry_window_days=30,
            has_lawsuit=lawsuit,
            has_enforcement=enforcement,
            total_external_debt=0,
            currency="CNY",
        )

    def contact(self, when: datetime, changed: str = "phone") -> ContactChange:
        return ContactChange(
            **self._envelope(when, None),
            changed=changed,
            new_value_ref="masked:138****5678",
        )

    def collateral(
        self, when: datetime, collateral_id: str, value: int, *, currency: str = "CNY"
    ) -> CollateralValuation:
        return CollateralValuation(
            **self._envelope(when, None),
            collateral_id=collateral_id,
            value=value,
            currency=currency,
        )

    def statement(
        self,
        when: datetime,
        previous_balance: int,
        payments: int,
        balance: int,
        *,
        limit: int | None = 50_000,
        currency: str = "CNY",
    ) -> StatementIssued:
        return StatementIssued(
            **self._envelope(when, None),
            previous_balance=previous_balance,
            payments=payments,
            balance=balance,
            minimum_due=max(balance // 25, 0),
            credit_limit=limit,
            currency=currency,
        )


def local_day(moment: datetime, policy: Policy = POLICY) -> date:
    return moment.astimezone(policy.zone).date()


def step(state: LoanState, event: Event, policy: Policy = POLICY) -> Applied:
    """What the engine does per event: clear flags, apply, bring the clock to its day."""
    state.begin_step()
    applied = apply(state, event, policy)
    if not applied.duplicate and applied.rejected is None:
        advance(state, local_day(event.event_time, policy), policy)
    return applied


def tick(state: LoanState, day: date, policy: Policy = POLICY) -> None:
    """What the engine does per clock tick."""
    state.begin_step()
    advance(state, day, policy)


def open_loan(
    schedule: list[dict[str, Any]],
    disbursed: date,
    book: Book | None = None,
    policy: Policy = POLICY,
) -> tuple[LoanState, Book]:
    book = book or Book()
    state = from_disbursement(book.disbursed(at(disbursed), schedule), policy)
    state.drain_transitions()
    return state, book


def canonical(state: LoanState) -> LoanState:
    """The state with arrival-order artefacts removed, for order-independence checks.

    The dedup memory keeps ids in arrival order, and flags and pending
    transitions belong to the last step; none of that is the loan's condition.
    """
    copy = loan_from_bytes(loan_to_bytes(state))
    copy.begin_step()
    copy.drain_transitions()
    return dataclasses.replace(copy, _seen=deque(sorted(copy._seen), maxlen=copy._seen.maxlen))


# ---------------------------------------------------------------------------- tests


def test_every_builder_makes_events_that_pass_the_wire_contract() -> None:
    book = Book()
    day = date(2024, 3, 1)
    payment = book.repay(at(day), 100)
    events: list[Event] = [
        book.disbursed(at(day), monthly(date(2024, 4, 1), 3, 1000, 10)),
        payment,
        book.reverse(at(day), payment),
        book.note(at(day), (day, 100)),
        book.label(at(day), book.note(at(day)), "hardship"),
        book.restructure(at(day), monthly(date(2024, 4, 1), 2, 1500, 10), 6),
        book.write_off(at(day), 100),
        book.txn(at(day), "out", 100, "securities", balance_after=-5),
        book.balance(at(day), 10),
        book.bureau(at(day), 1, 2, lawsuit=True),
        book.contact(at(day)),
        book.collateral(at(day), "c-1", 5000),
    ]

    for event in events:
        assert decode_event(encode_event(event)) == event
    assert len({event.event_id for event in events}) == len(events)


def test_monthly_schedules_keep_the_day_across_a_year_end() -> None:
    schedule = monthly(date(2024, 11, 15), 3, 100, 1)

    assert [line["due_date"] for line in schedule] == [
        date(2024, 11, 15),
        date(2024, 12, 15),
        date(2025, 1, 15),
    ]


def test_at_is_in_the_policy_zone() -> None:
    assert local_day(at(date(2024, 2, 29), 0, 0)) == date(2024, 2, 29)
    assert at(date(2024, 2, 29)).utcoffset() == ZONE.utcoffset(at(date(2024, 2, 29)))
