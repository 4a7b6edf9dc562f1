"""The loan products of the simulated book and the schedules they repay on.

Schedules are computed in exact decimal arithmetic and rounded to whole fen
per line, with the last line taking the remainder, so installment principals
always add up to the loan's principal (the contract refuses anything else).

>>> lines = build_schedule(1_200_000, 1200, 12, "annuity", date(2024, 2, 15), fee=0)
>>> len(lines), sum(line.principal for line in lines)
(12, 1200000)
>>> lines[0].interest, lines[0].principal + lines[0].interest  # 1 % a month on 12,000.00
(12000, 106619)
>>> [line.principal for line in build_schedule(1000, 0, 3, "equal_principal", date(2024, 1, 5))]
[333, 333, 334]
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final, Literal

from streams.simulate.timeline import add_months

__all__ = ["PRODUCTS", "Line", "Method", "Product", "build_schedule", "pick_product"]

Method = Literal["annuity", "equal_principal"]


@dataclass(frozen=True, slots=True)
class Product:
    """A loan product: term, size, price and repayment method."""

    name: str
    months: int
    min_principal: int
    """Minor units (fen); principals are drawn in whole hundreds of yuan."""
    max_principal: int
    min_rate_bps: int
    max_rate_bps: int
    method: Method
    monthly_fee: int
    income: Literal["salary", "business"]
    """What funds the borrower: a monthly salary, or several business receipts a month."""
    weight: float


PRODUCTS: Final[tuple[Product, ...]] = (
    Product("consumer-12m", 12, 1_000_000, 8_000_000, 1_200, 2_400, "annuity", 0, "salary", 0.5),
    Product("cash-6m", 6, 200_000, 2_000_000, 1_800, 3_600, "equal_principal", 500, "salary", 0.3),
    Product("sme-24m", 24, 10_000_000, 100_000_000, 600, 1_500, "annuity", 0, "business", 0.2),
)
"""Consumer instalment loan, short cash loan with a monthly fee, small-business term loan."""

_HUNDRED_YUAN: Final = 10_000


def pick_product(rng: random.Random) -> tuple[Product, int, int]:
    """Draw a product, a principal (whole hundreds of yuan) and an annual rate in bps."""
    product = rng.choices(PRODUCTS, weights=[p.weight for p in PRODUCTS])[0]
    steps = (product.max_principal - product.min_principal) // _HUNDRED_YUAN
    principal = product.min_principal + rng.randint(0, steps) * _HUNDRED_YUAN
    rate = rng.randint(product.min_rate_bps // 10, product.max_rate_bps // 10) * 10
    return product, principal, rate


@dataclass(frozen=True, slots=True)
class Line:
    """One scheduled installment, amounts in minor units."""

    due_date: date
    principal: int
    interest: int
    fees: int

    @property
    def amount(self) -> int:
        return self.principal + self.interest + self.fees


def _fen(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def build_schedule(
    principal: int,
    rate_bps: int,
    months: int,
    method: Method,
    first_due: date,
    *,
    fee: int = 0,
) -> tuple[Line, ...]:
    """Monthly lines from ``first_due`` on, interest on the declining balance.

    ``annuity`` keeps principal + interest level; ``equal_principal`` repays the
    same principal each month, so the total falls as interest does.
    """
    if principal <= 0 or months <= 0:
        raise ValueError(f"need a positive principal and term, got {principal} over {months}")
    monthly = Decimal(rate_bps) / Decimal(120_000)
    if method == "annuity" and monthly:
        payment = _fen(Decimal(principal) * monthly / (1 - (1 + monthly) ** -months))
    else:
        payment = 0
    lines: list[Line] = []
    balance = principal
    day = min(first_due.day, 28)
    for i in range(months):
        interest = _fen(Decimal(balance) * monthly)
        if i == months - 1:
            part = balance
        elif method == "annuity" and monthly:
            part = min(balance, max(0, payment - interest))
        else:
            part = principal // months
        due = first_due if i == 0 else add_months(first_due, i, day)
        lines.append(Line(due, part, interest, fee))
        balance -= part
    return tuple(lines)
