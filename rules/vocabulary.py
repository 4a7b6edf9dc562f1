"""The names a rule condition may use, what they mean, and where their values come from.

This is the contract between the rule language (which validates and compiles
conditions against these names) and the loan state (which provides the
values). A condition like ``loan.dpd >= 30 and features.outflow_30d > 0`` is
valid only if every dotted name is listed here; the loader rejects anything
else with the file, line and rule.

Each `Var` reads its value from a `RuleContext`, the one object the evaluator
builds per step: the loan's state, its behaviour features, the event being
applied (``None`` on a clock tick), model scores and the current day. Getters
are plain attribute reads, so evaluation costs one call per name used.

Money is in integer minor units; ratios are floats in [0, 1] unless noted;
names ending ``_days`` or starting ``days_`` are whole days.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Literal

__all__ = ["VOCABULARY", "RuleContext", "Var", "VarType"]

VarType = Literal["int", "float", "str", "bool"]


@dataclass(frozen=True, slots=True)
class Var:
    """One name a condition may use."""

    type: VarType
    getter: Callable[[RuleContext], Any]
    doc: str
    nullable: bool = (
        False  # may be None (e.g. no balance seen yet); comparisons with None are False
    )
    currency: Callable[[RuleContext], str] | None = None
    """For an amount of money (minor units): where its currency is read, so a message
    shows it as ``CNY 506.00`` (`rules.money`); ``None`` for everything else."""


@dataclass(slots=True)
class RuleContext:
    """Everything a condition can see at one step of one loan.

    ``event`` is the event being applied, or ``None`` for a clock tick;
    ``scores`` maps model names (``pd``, ``anomaly``) to their latest score.
    """

    loan: Any
    features: Any
    event: Any
    scores: Mapping[str, float]
    today: date
    now: datetime


def _loan(attr: str) -> Callable[[RuleContext], Any]:
    # A dotted attrgetter runs in C: reading a plain field costs no Python frame.
    return attrgetter(f"loan.{attr}")


def _feature(attr: str) -> Callable[[RuleContext], Any]:
    return attrgetter(f"features.{attr}")


def _event(attr: str) -> Callable[[RuleContext], Any]:
    return lambda ctx: getattr(ctx.event, attr, None)


_loan_currency: Callable[[RuleContext], str] = attrgetter("loan.currency")


def _event_currency(ctx: RuleContext) -> str:
    # An account event names its own currency; repayments and write-offs are the loan's.
    return getattr(ctx.event, "currency", None) or ctx.loan.currency  # type: ignore[no-any-return]


_MONEY = {
    "features.statement_balance",
    "loan.principal",
    "loan.outstanding_principal",
    "loan.overdue_principal",
    "loan.overdue_interest",
    "loan.overdue_total",
    "features.inflow_7d",
    "features.inflow_30d",
    "features.inflow_90d",
    "features.outflow_7d",
    "features.outflow_30d",
    "features.outflow_90d",
    "features.salary_30d",
    "features.salary_prev_60d",
    "features.balance",
    "features.diverted_30d",
}
"""Loan-level amounts and account features, in the loan's currency (account events in
another currency are not summed with them: rules.features)."""


def _event_type(ctx: RuleContext) -> str:
    return "tick" if ctx.event is None else str(ctx.event.type)


_INTENTS: dict[str, str] = {
    "promise_to_pay": "a promise to pay",
    "hardship": "hardship (job loss, illness, business closed)",
    "dispute": "a dispute of the debt",
    "refusal": "a refusal to pay",
    "unreachable": "the borrower being unreachable (number out of service, unknown at the address)",
}
"""The note intents the text model tells apart (besides ``other``), each a 0/1 score."""


def _score(name: str) -> Callable[[RuleContext], Any]:
    return lambda ctx: ctx.scores.get(name, 0.0)


def _promise_made(ctx: RuleContext) -> bool:
    return getattr(ctx.event, "promise_to_pay", None) is not None


_LOAN: dict[str, tuple[VarType, str]] = {
    "dpd": ("int", "days past due of the oldest unpaid installment, after grace (0 when current)"),
    "max_dpd": ("int", "largest DPD this loan ever reached"),
    "bucket": ("str", "delinquency bucket label: M0, M1, ... M6, M6+"),
    "bucket_index": ("int", "bucket as a number: 0 for M0 ... 7 for M6+"),
    "klass": ("str", "five-category class: normal, special_mention, substandard, doubtful, loss"),
    "klass_index": ("int", "class as a number: 0 normal ... 4 loss"),
    "klass_downgraded": ("bool", "the class got worse in this step"),
    "bucket_worsened": ("bool", "the bucket got worse in this step"),
    "status": ("str", "active, closed or written_off"),
    "restructured": ("bool", "the loan was restructured at least once"),
    "in_observation": ("bool", "inside a restructuring's observation period"),
    "principal": ("int", "principal disbursed (minor units)"),
    "outstanding_principal": ("int", "principal not yet repaid"),
    "overdue_principal": ("int", "principal of installments past due and unpaid"),
    "overdue_interest": ("int", "interest of installments past due and unpaid"),
    "overdue_total": ("int", "principal + interest + fees past due and unpaid"),
    "missed_installments": ("int", "installments past due (after grace) and not fully paid"),
    "installment_missed": ("bool", "an installment passed its cut-off unpaid in this step"),
    "first_unpaid_installment": (
        "int",
        "number of the oldest installment not fully paid, 1 for the first (0 when none is)",
    ),
    "days_since_disbursement": ("int", "days from disbursement to today"),
    "days_to_next_due": ("int", "days until the next unpaid installment's due date"),
    "on_time_streak": ("int", "consecutive installments paid by their due date"),
    "last_day_streak": ("int", "consecutive installments paid on their due date or in grace"),
    "late_cure_count": ("int", "times the loan went late and then caught up"),
    "late_cure_streak": ("int", "consecutive installments that were late and then cured"),
    "cured": ("bool", "the loan returned to current in this step"),
    "partial_payments": ("int", "repayments that left the installment due unpaid"),
    "promises_broken": ("int", "promises to pay not kept by their date"),
    "promise_broken": ("bool", "a promise to pay was broken in this step"),
    "promise_open": ("bool", "a promise to pay is pending"),
    "third_party_repayments": ("int", "repayments from a third-party account"),
    "written_off": ("bool", "the loan was written off"),
}

_LOAN_NULLABLE = {"days_to_next_due"}

_FEATURES: dict[str, tuple[VarType, str]] = {
    "inflow_7d": ("int", "money into the borrower's accounts, last 7 days"),
    "inflow_30d": ("int", "money in, last 30 days"),
    "inflow_90d": ("int", "money in, last 90 days"),
    "outflow_7d": ("int", "money out, last 7 days"),
    "outflow_30d": ("int", "money out, last 30 days"),
    "outflow_90d": ("int", "money out, last 90 days"),
    "salary_30d": ("int", "salary inflow, last 30 days"),
    "salary_prev_60d": ("int", "salary inflow 31-90 days ago"),
    "days_since_salary": ("int", "days since the last salary inflow"),
    "balance": ("int", "latest known balance over the borrower's accounts"),
    "balance_drop_7d": ("float", "fall of the balance from its 7-day high, as a share of it"),
    "diverted_30d": (
        "int",
        "outflow to securities, property or other lenders in the first 30 days",
    ),
    "diverted_share": ("float", "diverted_30d as a share of the principal"),
    "days_to_first_large_outflow": (
        "int",
        "days from disbursement to the first outflow >= 50% of principal",
    ),
    "other_lender_payments_30d": ("int", "payments to other lenders, last 30 days (count)"),
    "bureau_new_delinquencies": ("int", "new delinquencies elsewhere in the latest bureau report"),
    "bureau_inquiries": ("int", "credit inquiries in the latest bureau report"),
    "bureau_inquiry_jump": ("int", "inquiries in the latest report minus the previous report"),
    "bureau_lawsuit": ("bool", "the latest bureau report shows a lawsuit"),
    "bureau_enforcement": ("bool", "the latest bureau report shows an enforcement record"),
    "contact_changes_30d": ("int", "contact detail changes, last 30 days"),
    "days_since_contact_change": ("int", "days since the last contact change"),
    "avg_days_before_due": ("float", "average days before the due date that payments arrived"),
    "collateral_ltv": ("float", "outstanding principal / latest collateral value"),
    "statement_balance": ("int", "balance on the latest billing statement"),
    "statement_utilisation": ("float", "latest statement balance / its credit limit"),
    "statement_paid_share": (
        "float",
        "payments on the latest statement / the balance before it",
    ),
    "statement_paid_in_full": ("bool", "the latest statement shows the previous balance paid"),
    "statement_revolving": ("bool", "the latest statement carries part of the previous balance"),
}

_FEATURES_NULLABLE = {
    "days_since_salary",
    "balance",
    "days_to_first_large_outflow",
    "days_since_contact_change",
    "avg_days_before_due",
    "collateral_ltv",
    "statement_balance",
    "statement_utilisation",
    "statement_paid_share",
}

_EVENT: dict[str, tuple[VarType, str]] = {
    "amount": ("int", "amount of a repayment, transaction or write-off"),
    "kind": ("str", "repayment kind: full, partial, early"),
    "payer_is_third_party": ("bool", "the repayment came from a third party"),
    "direction": ("str", "account transaction direction: in, out"),
    "counterparty_category": ("str", "salary, securities, property, other_lender, ..."),
    "changed": ("str", "contact change: phone, address, email, employer"),
    "new_delinquencies": ("int", "bureau report: new delinquencies elsewhere"),
    "inquiries": ("int", "bureau report: inquiry count"),
    "has_lawsuit": ("bool", "bureau report: lawsuit on record"),
    "has_enforcement": ("bool", "bureau report: enforcement on record"),
    "author_team": ("str", "collection note: author's team"),
}


def _build() -> Mapping[str, Var]:
    names: dict[str, Var] = {}
    for attr, (kind, doc) in _LOAN.items():
        name = f"loan.{attr}"
        money = _loan_currency if name in _MONEY else None
        names[name] = Var(kind, _loan(attr), doc, attr in _LOAN_NULLABLE, money)
    for attr, (kind, doc) in _FEATURES.items():
        name = f"features.{attr}"
        money = _loan_currency if name in _MONEY else None
        names[name] = Var(kind, _feature(attr), doc, attr in _FEATURES_NULLABLE, money)
    names["event.type"] = Var("str", _event_type, "event type, or 'tick' for the clock")
    names["event.promise_made"] = Var("bool", _promise_made, "a collection note holds a promise")
    for attr, (kind, doc) in _EVENT.items():
        money = _event_currency if attr == "amount" else None
        names[f"event.{attr}"] = Var(kind, _event(attr), doc, nullable=True, currency=money)
    names["model.pd"] = Var("float", _score("pd"), "early-warning probability of default")
    names["model.anomaly"] = Var("float", _score("anomaly"), "anomaly score of the latest event")
    for intent, what in _INTENTS.items():
        names[f"model.intent_{intent}"] = Var(
            "float", _score(f"intent_{intent}"), f"1.0 when this collection note reads as {what}"
        )
    return MappingProxyType(names)


VOCABULARY: Mapping[str, Var] = _build()
"""Every name a rule condition may use."""
