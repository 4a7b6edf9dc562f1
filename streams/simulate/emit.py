"""Turning a loan's drafts into contract events, in time order, and feeding the truth.

`LoanSim` plans *drafts* (a kind, some fields, the account movement they
cause); the `Emitter` builds the validated `rules` record when a draft's time
comes, fills in what depends on history (the account balance), and replays
the event into the loan's `TruthLedger`. Building every event through the
pydantic models means a simulator bug surfaces here, at the source, not in a
consumer's dead-letter topic.
"""

from __future__ import annotations

from typing import Any, Final

from rules import (
    AccountBalance,
    AccountTransaction,
    BureauReport,
    CollectionNote,
    ContactChange,
    Event,
    Installment,
    LoanDisbursed,
    NoteLabelled,
    PromiseToPay,
    RepaymentReceived,
    RepaymentReversed,
    Restructure,
    WriteOff,
)
from streams.simulate.profiles import Signal
from streams.simulate.timeline import (
    date_to_day,
    day_to_date,
    local_datetime,
    local_day,
    utc_datetime,
)
from streams.simulate.truth import TruthLedger

__all__ = ["SOURCES", "Emitter"]

_CURRENCY: Final = "CNY"
# kind -> (source system, event_id prefix)
SOURCES: Final = {
    "disbursed": ("core-banking", "cb"),
    "repay": ("payment-gateway", "pg"),
    "reverse": ("payment-gateway", "pg"),
    "txn": ("deposit-ledger", "dl"),
    "balance": ("deposit-ledger", "dl"),
    "bureau": ("bureau-gateway", "bu"),
    "contact": ("crm", "crm"),
    "note": ("collection-system", "cs"),
    "label": ("collection-system", "cs"),
    "restructure": ("core-banking", "cb"),
    "write_off": ("core-banking", "cb"),
    "marker": ("", "mk"),
}


class Emitter:
    """Materialises one loan's drafts; holds the account balance and the truth ledger."""

    def __init__(
        self,
        *,
        loan_id: str,
        borrower_id: str,
        account: str,
        principal: int,
        product: str,
        rate_bps: int,
        balance: int,
    ) -> None:
        self.loan_id = loan_id
        self.borrower_id = borrower_id
        self.account = account
        self.principal = principal
        self.product = product
        self.rate_bps = rate_bps
        self.balance = balance
        self.truth = TruthLedger()

    def build(
        self, at: int, kind: str, fields: dict[str, Any], delta: int, tag: Signal | None
    ) -> Event | None:
        truth = self.truth
        day = local_day(at)
        if tag is not None:
            truth.signal(tag, day)
        if kind == "marker":
            return None
        self.balance += delta
        source = SOURCES[kind][0]
        env = {
            "event_id": fields.pop("event_id"),
            "loan_id": self.loan_id,
            "borrower_id": self.borrower_id,
            "event_time": utc_datetime(at) if kind == "bureau" else local_datetime(at),
            "source": source,
            "schema_version": 1,
        }
        if kind == "txn":
            return AccountTransaction(
                **env,
                **fields,
                account=self.account,
                currency=_CURRENCY,
                balance_after=self.balance,
            )
        if kind == "balance":
            return AccountBalance(
                **env, account=self.account, balance=self.balance, currency=_CURRENCY
            )
        if kind == "repay":
            truth.repayment(
                env["event_id"],
                fields["amount"],
                day,
                partial=fields["kind"] == "partial",
                third_party=fields["payer_is_third_party"],
            )
            return RepaymentReceived(**env, **fields)
        if kind == "reverse":
            truth.reversal(fields["reversed_event_id"], day)
            return RepaymentReversed(**env, **fields)
        if kind == "bureau":
            truth.bureau(
                fields["inquiries"], fields["new_delinquencies"], fields["has_lawsuit"], day
            )
            return BureauReport(**env, **fields, currency=_CURRENCY)
        if kind == "contact":
            truth.contact_change(day)
            return ContactChange(**env, **fields)
        if kind == "note":
            promise = fields.pop("promise_to_pay")
            ptp = None
            if promise is not None:
                truth.promise(promise[0], promise[1], day)
                ptp = PromiseToPay(date=day_to_date(promise[0]), amount=promise[1])
            return CollectionNote(**env, **fields, promise_to_pay=ptp)
        if kind == "label":
            return NoteLabelled(**env, **fields)
        if kind in ("disbursed", "restructure"):
            lines = fields.pop("schedule")
            truth.schedule(
                [date_to_day(line.due_date) for line in lines],
                [line.amount for line in lines],
                day,
                first=kind == "disbursed",
            )
            schedule = tuple(
                Installment(
                    seq=i + 1,
                    due_date=line.due_date,
                    principal=line.principal,
                    interest=line.interest,
                    fees=line.fees,
                )
                for i, line in enumerate(lines)
            )
            if kind == "restructure":
                return Restructure(**env, **fields, schedule=schedule)
            return LoanDisbursed(
                **env,
                principal=self.principal,
                currency=_CURRENCY,
                product=self.product,
                disbursed_account=self.account,
                interest_rate_bps=self.rate_bps,
                schedule=schedule,
            )
        if kind == "write_off":
            truth.write_off(day)
            return WriteOff(**env, **fields)
        raise AssertionError(f"unknown draft kind {kind!r}")
