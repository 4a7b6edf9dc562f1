"""Sample loans of a known shape: equal installments every 30 days, built by hand.

The simulated book (`LoanBook`) is for realistic volume; some callers need one
plain loan whose every figure they know instead: the smoke round trip
(`loanwatch smoke`), the core benchmark (bench/core.py) and the worker's
integration tests. They build it here, so a change to the event contract is
made once.

>>> from datetime import UTC
>>> loan = sample_loan(
...     "L-1", datetime(2026, 1, 5, 2, tzinfo=UTC), first_due=date(2026, 2, 5),
...     installments=3, principal=100_000, interest=1_000,
... )
>>> loan.principal, [str(line.due_date) for line in loan.schedule]
(300000, ['2026-02-05', '2026-03-07', '2026-04-06'])
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from rules.events import Installment, LoanDisbursed

__all__ = ["equal_schedule", "sample_loan"]

_EVERY_DAYS = 30


def equal_schedule(
    first_due: date, installments: int, principal: int, interest: int
) -> tuple[Installment, ...]:
    """``installments`` lines of the same principal and interest, 30 days apart, no fees."""
    return tuple(
        Installment(
            seq=i + 1,
            due_date=first_due + timedelta(days=_EVERY_DAYS * i),
            principal=principal,
            interest=interest,
            fees=0,
        )
        for i in range(installments)
    )


def sample_loan(
    loan_id: str,
    paid_out: datetime,
    *,
    first_due: date,
    installments: int,
    principal: int,
    interest: int,
    borrower_id: str | None = None,
    account: str = "acct-1",
    source: str = "test",
    product: str | None = None,
    rate_bps: int = 1500,
) -> LoanDisbursed:
    """The disbursement of a loan repaid in equal installments (`equal_schedule`).

    ``principal`` and ``interest`` are per installment; the loan's principal is
    their sum. The borrower defaults to ``bw-<loan_id>``, the product to
    ``consumer-<installments>m``; the event id is ``<loan_id>-d``.
    """
    return LoanDisbursed(
        event_id=f"{loan_id}-d",
        loan_id=loan_id,
        borrower_id=borrower_id or f"bw-{loan_id}",
        event_time=paid_out,
        source=source,
        schema_version=1,
        principal=principal * installments,
        currency="CNY",
        product=product or f"consumer-{installments}m",
        disbursed_account=account,
        interest_rate_bps=rate_bps,
        schedule=equal_schedule(first_due, installments, principal, interest),
    )
