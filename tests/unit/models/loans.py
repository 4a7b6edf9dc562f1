"""Real loan states for the model tests, built through the event contract and `rules.loan`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from rules.events import AccountTransaction, CollectionNote, LoanDisbursed, RepaymentReceived
from rules.loan import LoanState, advance, apply, from_disbursement
from rules.policy import load_policy

POLICY = load_policy()
START = date(2026, 1, 5)
NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)


def _env(loan_id: str, n: int, day: date) -> dict[str, Any]:
    return {
        "event_id": f"{loan_id}-{n}",
        "loan_id": loan_id,
        "borrower_id": f"bw-{loan_id}",
        "event_time": datetime.combine(day, time(10), tzinfo=UTC),
        "source": "test",
        "schema_version": 1,
    }


def open_loan(loan_id: str = "L-1", months: int = 6, amount: int = 100_000) -> LoanState:
    schedule = [
        {
            "seq": i + 1,
            "due_date": START + timedelta(days=30 * (i + 1)),
            "principal": amount,
            "interest": 1_000,
            "fees": 0,
        }
        for i in range(months)
    ]
    event = LoanDisbursed(
        **_env(loan_id, 0, START),
        principal=amount * months,
        currency="CNY",
        product="cash-loan",
        disbursed_account="acct-1",
        interest_rate_bps=1200,
        schedule=schedule,
    )
    return from_disbursement(event, POLICY)


def tick(loan: LoanState, day: date) -> None:
    loan.begin_step()
    advance(loan, day, POLICY)


def repay(loan: LoanState, day: date, amount: int, n: int) -> None:
    loan.begin_step()
    event = RepaymentReceived(
        **_env(loan.loan_id, n, day),
        amount=amount,
        kind="full",
        payer_account="acct-1",
        payer_is_third_party=False,
        channel="app",
    )
    apply(loan, event, POLICY)
    advance(loan, day, POLICY)


def transaction(
    loan: LoanState, day: date, direction: str, amount: int, category: str, n: int
) -> AccountTransaction:
    event = AccountTransaction(
        **_env(loan.loan_id, n, day),
        account="acct-1",
        direction=direction,
        amount=amount,
        currency="CNY",
        counterparty_category=category,
        balance_after=50_000,
    )
    loan.begin_step()
    apply(loan, event, POLICY)
    advance(loan, day, POLICY)
    return event


def note(loan: LoanState, day: date, text: str, n: int) -> CollectionNote:
    return CollectionNote(**_env(loan.loan_id, n, day), text=text, author_team="collections-m1")
