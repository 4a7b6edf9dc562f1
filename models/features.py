"""Flat feature vectors for the models, read from a loan's state in one pass.

The early-warning model sees the loan as `rules.loan.LoanState` holds it: the
same facts a rule reads as ``loan.*`` and ``features.*`` (`rules.vocabulary`),
turned into floats. Money becomes a share of the principal so that loans of
different sizes are comparable and the scaler does not have to learn the
currency; facts that may be missing (no balance seen yet) become 0 with a flag
beside them where the absence itself says something.

Nothing that is, or follows from, the outcome is a feature: ``status`` and
``written_off`` are left out, because they are the label (`models.labels`).

Everything here is plain attribute reads and a few divisions: a vector costs a
few microseconds, well inside the per-event budget (`bench/models.py`).

Examples
--------
>>> from types import SimpleNamespace
>>> money = SimpleNamespace(
...     inflow_30d=20_000, outflow_30d=50_000, salary_30d=0, salary_prev_60d=40_000,
...     balance=None, balance_drop_7d=0.0, diverted_share=0.0, other_lender_payments_30d=2,
...     bureau_new_delinquencies=1, bureau_inquiries=3, bureau_inquiry_jump=2,
...     bureau_lawsuit=False, bureau_enforcement=False, contact_changes_30d=0,
...     avg_days_before_due=None, collateral_ltv=None, statement=(50_000, 2_000, 60_000, 80_000),
...     statement_utilisation=0.75, statement_paid_share=0.04, statement_paid_in_full=False,
...     statement_revolving=True)
>>> loan = SimpleNamespace(
...     features=money, principal=100_000, outstanding_principal=80_000, overdue_total=10_000,
...     dpd=12, max_dpd=12, bucket_index=1, klass_index=1, missed_installments=1,
...     on_time_streak=0, last_day_streak=0, late_cure_count=0, partial_payments=1,
...     promises_broken=0, third_party_repayments=0, days_since_disbursement=75,
...     restructured=False)
>>> x = pd_features(loan)
>>> x["dpd"], x["outstanding_share"], x["salary_stopped"], x["has_balance"]
(12.0, 0.8, 1.0, 0.0)
>>> x["statement_revolving"], x["statement_balance_change"]
(1.0, 0.125)
>>> sorted(x) == sorted(PD_FEATURES)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "ANOMALY_FEATURES",
    "NO_BEHAVIOUR",
    "PD_FEATURES",
    "NoBehaviour",
    "pd_features",
    "transaction_features",
]

PD_FEATURES: Final = (
    "dpd",
    "max_dpd",
    "bucket_index",
    "klass_index",
    "missed_installments",
    "on_time_streak",
    "last_day_streak",
    "late_cure_count",
    "partial_payments",
    "promises_broken",
    "third_party_repayments",
    "months_on_book",
    "restructured",
    "log_principal",
    "outstanding_share",
    "overdue_share",
    "inflow_30d_share",
    "outflow_30d_share",
    "salary_stopped",
    "has_balance",
    "balance_share",
    "balance_drop_7d",
    "diverted_share",
    "other_lender_payments_30d",
    "bureau_new_delinquencies",
    "bureau_inquiries",
    "bureau_inquiry_jump",
    "bureau_lawsuit",
    "bureau_enforcement",
    "contact_changes_30d",
    "avg_days_before_due",
    "collateral_ltv",
    "has_statement",
    "statement_utilisation",
    "statement_paid_share",
    "statement_paid_in_full",
    "statement_revolving",
    "statement_idle",
    "statement_balance_change",
)
"""The names `pd_features` returns, in a fixed order (reason codes use them)."""

ANOMALY_FEATURES: Final = (
    "log_amount",
    "amount_share",
    "outflow",
    "balance_share",
    "flow_ratio_30d",
    "other_lender",
)
"""The names `transaction_features` returns."""

_MONTH: Final = 30.0
_LOG_MONEY: Final = math.log1p(1e11)  # a trillion in minor units: beyond any movement


@dataclass(frozen=True, slots=True)
class NoBehaviour:
    """The behaviour features of a borrower of whom only the loan is known.

    No account, bureau, contact, collateral or statement data: what `pd_features` reads
    from ``loan.features`` when a source (a data set, a product) has none.
    """

    inflow_30d: int = 0
    outflow_30d: int = 0
    salary_30d: int = 0
    salary_prev_60d: int = 0
    balance: int | None = None
    balance_drop_7d: float = 0.0
    diverted_share: float = 0.0
    other_lender_payments_30d: int = 0
    bureau_new_delinquencies: int = 0
    bureau_inquiries: int = 0
    bureau_inquiry_jump: int = 0
    bureau_lawsuit: bool = False
    bureau_enforcement: bool = False
    contact_changes_30d: int = 0
    avg_days_before_due: float | None = None
    collateral_ltv: float | None = None
    statement: tuple[int, int, int, int] | None = None
    statement_utilisation: float | None = None
    statement_paid_share: float | None = None
    statement_paid_in_full: bool = False
    statement_revolving: bool = False


NO_BEHAVIOUR: Final = NoBehaviour()


def pd_features(loan: Any) -> dict[str, float]:
    """The early-warning feature vector of a loan, as of its clock day.

    Parameters
    ----------
    loan
        A `rules.loan.LoanState` (or any object with the same attributes; the
        Taiwan bench feeds a revolving-card state shaped like it).

    Returns
    -------
    dict[str, float]
        One value per name in `PD_FEATURES`.
    """
    f = loan.features
    principal = float(loan.principal) or 1.0
    salary_before = f.salary_prev_60d
    balance = f.balance
    dbd = f.avg_days_before_due
    ltv = f.collateral_ltv
    return {
        "dpd": float(loan.dpd),
        "max_dpd": float(loan.max_dpd),
        "bucket_index": float(loan.bucket_index),
        "klass_index": float(loan.klass_index),
        "missed_installments": float(loan.missed_installments),
        "on_time_streak": float(loan.on_time_streak),
        "last_day_streak": float(loan.last_day_streak),
        "late_cure_count": float(loan.late_cure_count),
        "partial_payments": float(loan.partial_payments),
        "promises_broken": float(loan.promises_broken),
        "third_party_repayments": float(loan.third_party_repayments),
        "months_on_book": loan.days_since_disbursement / _MONTH,
        "restructured": 1.0 if loan.restructured else 0.0,
        "log_principal": math.log1p(principal),
        "outstanding_share": loan.outstanding_principal / principal,
        "overdue_share": loan.overdue_total / principal,
        "inflow_30d_share": f.inflow_30d / principal,
        "outflow_30d_share": f.outflow_30d / principal,
        # A salary that came before and stopped: the classic early signal.
        "salary_stopped": 1.0 if salary_before > 0 and f.salary_30d == 0 else 0.0,
        "has_balance": 0.0 if balance is None else 1.0,
        "balance_share": 0.0 if balance is None else balance / principal,
        "balance_drop_7d": f.balance_drop_7d,
        "diverted_share": f.diverted_share,
        "other_lender_payments_30d": float(f.other_lender_payments_30d),
        "bureau_new_delinquencies": float(f.bureau_new_delinquencies),
        "bureau_inquiries": float(f.bureau_inquiries),
        "bureau_inquiry_jump": float(f.bureau_inquiry_jump),
        "bureau_lawsuit": 1.0 if f.bureau_lawsuit else 0.0,
        "bureau_enforcement": 1.0 if f.bureau_enforcement else 0.0,
        "contact_changes_30d": float(f.contact_changes_30d),
        "avg_days_before_due": 0.0 if dbd is None else dbd,
        "collateral_ltv": 0.0 if ltv is None else ltv,
        **_statement_features(f),
    }


def _statement_features(f: Any) -> dict[str, float]:
    """What the latest billing statement says while DPD still reads 0.

    On a revolving line the bank's own early signals are here: paying the bill
    in full, only part of it, or nothing being drawn at all (a real card panel's
    bad rates among current clients: 0.2 %, 1.8 % and 0 %). Shares are clipped,
    since a payment far above the bill or a balance over the limit says no more
    than a large one and would only stretch the scaler.
    """
    statement = f.statement
    if statement is None:
        return _NO_STATEMENT
    previous, payments, balance, limit = statement
    used = f.statement_utilisation
    paid = f.statement_paid_share
    scale = float(limit or max(abs(previous), abs(balance), 1))
    return {
        "has_statement": 1.0,
        "statement_utilisation": 0.0 if used is None else _clipped(used, -1.0, 2.0),
        "statement_paid_share": 0.0 if paid is None else _clipped(paid, 0.0, 2.0),
        "statement_paid_in_full": 1.0 if f.statement_paid_in_full else 0.0,
        "statement_revolving": 1.0 if f.statement_revolving else 0.0,
        "statement_idle": 1.0 if previous <= 0 and balance <= 0 else 0.0,
        "statement_balance_change": _clipped((balance - previous) / scale, -2.0, 2.0),
    }


def _clipped(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


_NO_STATEMENT: Final = {
    "has_statement": 0.0,
    "statement_utilisation": 0.0,
    "statement_paid_share": 0.0,
    "statement_paid_in_full": 0.0,
    "statement_revolving": 0.0,
    "statement_idle": 0.0,
    "statement_balance_change": 0.0,
}


def transaction_features(
    *, amount: int, direction: str, category: str, balance_after: int, features: Any
) -> dict[str, float]:
    """What the anomaly model sees of one account movement, relative to the borrower.

    Amounts are taken relative to the borrower's own 90-day flows, so one
    shared model can tell that a 50,000 outflow is ordinary for one borrower
    and extraordinary for another.

    Parameters
    ----------
    amount, direction, category, balance_after
        The fields of a `rules.events.AccountTransaction`.
    features
        The borrower's `rules.features.Features` *before* this movement.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> f = SimpleNamespace(inflow_90d=300_000, outflow_90d=240_000,
    ...                     inflow_30d=100_000, outflow_30d=80_000)
    >>> x = transaction_features(amount=200_000, direction="out", category="securities",
    ...                          balance_after=10_000, features=f)
    >>> round(x["amount_share"], 3), x["outflow"], x["other_lender"]
    (0.37, 1.0, 0.0)
    >>> all(0.0 <= v <= 1.0 for v in x.values())
    True
    """
    flows = float(features.inflow_90d + features.outflow_90d) or 1.0
    inflow = float(features.inflow_30d)
    outflow = float(features.outflow_30d) + (amount if direction == "out" else 0)
    balance = balance_after / flows
    ratio = outflow / (inflow or 1.0)
    # Every value is squashed into [0, 1]: the anomaly trees split that fixed range.
    return {
        "log_amount": min(math.log1p(amount) / _LOG_MONEY, 1.0),
        "amount_share": min(amount / flows, 1.0),
        "outflow": 1.0 if direction == "out" else 0.0,
        "balance_share": 0.5 + 0.5 * balance / (1.0 + abs(balance)),
        "flow_ratio_30d": ratio / (1.0 + ratio),
        "other_lender": 1.0 if category == "other_lender" else 0.0,
    }
