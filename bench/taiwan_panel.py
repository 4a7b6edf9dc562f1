"""The Taiwan panel (UCI "default of credit card clients") read, and turned into loans.

Shared by ``bench/taiwan.py`` (the PD on the card's own state) and
``bench/early_warning.py`` (the whole monitor replaying the panel). Plain
stdlib and `rules` only, so a test can load it by path.

`load` reads the file, April first. `panel_history` turns each client into a
*loan* in the event contract, whose DPD, as the engine computes it from the
schedule and the repayments, follows the bank's repayment status (months of
delay x 30) as far as the data allows without telling the engine anything
before the month the bank knew it.

The loan
    Month ends are 30 days apart (D_0 is April's, D_5 September's), so the
    status x 30 is a whole number of DPD marks. Installment j is due on D_j:
    eight "before April" installments (j = -8 .. -1, for clients already late
    in April; zero for everyone else), one per month April to September, and a
    last one far out holding the rest of the principal. Month m's payment
    (X18..X23) arrives on D_(m-1), the due date of the previous installment,
    so it is in time for it; the month-end state is the loan at the start of
    D_m, before the next month's payment. The engine then says DPD = 30 x k at
    D_m exactly when the oldest installment not covered by the payments so far
    is j = m - k.

Installment amounts
    A statement with no balance (bill <= 0, the bank's -2) owes nothing: the
    installment is 0. Otherwise it is the minimum payment, ``MIN_SHARE`` of the
    bill (at least 1), moved only as far as the next month's status needs:
    up to what was paid by then when the status says current (the client paid
    the minimum), just over it when the status says one month late. It is
    never set at or below what was already paid before its due date, so the
    amount of an installment shows nothing until the payment that settles
    it arrives, and the month-end state at D_m depends only on the data of
    months up to m. Clients late in April owe their "before April"
    installments, the oldest just over April's payment.

Statements
    The bank's status codes for a current client (-2 no bill, -1 paid in
    full, 0 revolving) are all DPD 0 to the engine; the bills and payments
    behind them reach the monitor as a ``statement_issued`` at each month end
    from May on (`client_statements`), as a card issuer's billing system would
    send them.

What it cannot reproduce
    - Jumps: the panel often goes from current straight to two months late
      (0 -> 2: 6,209 of 150,000 month pairs), which no schedule can show in 30
      days. The loan follows the first month the status can be read (30 DPD),
      then the next; it never shows a delay before the bank did, so the engine's
      60 DPD comes up to a month after the bank's "2".
    - "Paid the minimum, still two months late" (2 -> 2) needs the payment to
      settle exactly one installment; the minimum amounts make it so only as
      far as the payments allow.
    - Six months of history only: the months before April are a stand-in
      (the April status, nothing else), and nothing is known after September.
      Each loan is repaid in full on D_5 (after its September month end) so
      that nothing is made up afterwards; the online models therefore learn the
      snapshots of its last 90 days as good unless the loan went bad by
      September (censored, read as good).
    - The principal is ``PRINCIPAL_TIMES`` x the credit limit: a card has
      no principal, and the loan must not be paid off by the six payments
      (the largest client paid 14.6 limits).

>>> client = Client(limit=1000, status=[0, 0, 1, 2, 0, -1], bill=[500] * 6,
...                 paid=[20, 20, 0, 0, 60, 500], default=False, ident=7)
>>> loan = client_loan(client)
>>> loan.expected_dpd
[0, 0, 30, 60, 0, 0]
>>> loan.promised
[True, True, True, True, True, True]
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rules import Event, LoanDisbursed, RepaymentReceived, StatementIssued
from rules.loan import advance, apply, from_disbursement
from rules.policy import Policy

__all__ = [
    "DATA",
    "MONTHS",
    "Client",
    "PanelLoan",
    "client_loan",
    "engine_dpd",
    "load",
    "panel_history",
]

DATA = Path(__file__).resolve().parents[2] / "shared/datasets/taiwan_credit_default"
MONTHS = 6
MONTH_DAYS = 30
BEFORE = 8
"""Installments before April: the largest April status in the file is 8."""
MIN_SHARE = 0.04
"""The minimum payment as a share of the bill (clients who stay current pay a median 4 %)."""
PRINCIPAL_TIMES = 16
FIRST_MONTH_END = date(2005, 4, 30)
ZONE = ZoneInfo("Asia/Shanghai")
"""The default policy's zone (Taipei keeps the same offset)."""
PAY_AT = time(10)
CLIENTS_PER_DAY = 24
"""Loans start one an hour, as bench/taiwan.py plays them: the models learn as they go."""


@dataclass(slots=True)
class Client:
    limit: int
    status: list[int]  # April first
    bill: list[int]
    paid: list[int]
    default: bool
    ident: int = 0
    """The file's ID column."""


def load(path: Path) -> list[Client]:
    """The clients, each month April first (the file runs September back to April)."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return [
        Client(
            limit=int(float(r[1])),
            status=[int(v) for v in reversed(r[6:12])],
            bill=[int(float(v)) for v in reversed(r[12:18])],
            paid=[int(float(v)) for v in reversed(r[18:24])],
            default=r[24] == "1",
            ident=int(r[0]),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class PanelLoan:
    """One client as a loan: installments j = -BEFORE .. 5, and what its DPD should read."""

    principal: int
    amounts: list[int]
    """Installment amounts, index 0 is j = -BEFORE; the rest of the principal comes after."""
    expected_dpd: list[int]
    """The DPD the schedule and the payments give at each month end D_0 .. D_5."""
    promised: list[bool]
    """Month ends where that DPD is the bank's status x 30."""


def _cumulative(paid: list[int]) -> list[int]:
    out, total = [], 0
    for amount in paid:
        total += max(amount, 0)
        out.append(total)
    return out


def _amount(j: int, c: Client, owed: int, cum: list[int]) -> int:
    """Installment j (0 = April's), given ``owed`` = the installments before it."""
    if j < 0:
        late = max(c.status[0], 0)
        if j < -late:
            return 0
        base = max(round(MIN_SHARE * max(c.bill[0], 0)), 1)
        return max(base, cum[0] - owed + 1) if j == -late else base
    if c.bill[j] <= 0:
        return 0
    amount = max(round(MIN_SHARE * c.bill[j]), 1, cum[j] - owed + 1)  # never prepaid at D_j
    if j + 1 < MONTHS:
        status, paid_by = c.status[j + 1], cum[j + 1] - owed
        if status <= 0 and paid_by >= max(cum[j] - owed + 1, 1):
            amount = min(amount, paid_by)
        elif status == 1:
            amount = max(amount, paid_by + 1)
    return amount


def _dpd_at(m: int, amounts: list[int], paid_by: int) -> int:
    """DPD at the start of D_m: from the oldest installment due by D_(m-1) not covered."""
    owed = 0
    for j in range(-BEFORE, m):
        a = amounts[j + BEFORE]
        owed += a
        if a and owed > paid_by:
            return MONTH_DAYS * (m - j)
    return 0


def client_loan(c: Client) -> PanelLoan:
    """The schedule of one client and the DPD it gives at each month end."""
    cum = _cumulative(c.paid)
    amounts: list[int] = []
    owed = 0
    for j in range(-BEFORE, MONTHS):
        a = _amount(j, c, owed, cum)
        amounts.append(a)
        owed += a
    expected = [_dpd_at(m, amounts, cum[m]) for m in range(MONTHS)]
    promised = [d == MONTH_DAYS * max(s, 0) for d, s in zip(expected, c.status, strict=True)]
    principal = max(PRINCIPAL_TIMES * c.limit, owed + 1, cum[-1] + 1)
    return PanelLoan(principal, amounts, expected, promised)


def month_end(first_month_end: date, m: int) -> date:
    """D_m (m may be negative: the installments before April)."""
    return first_month_end + timedelta(days=MONTH_DAYS * m)


def client_events(
    c: Client, loan: PanelLoan, first_month_end: date, zone: tzinfo = ZONE
) -> list[Event]:
    """Disbursement, the six months' payments and statements, and the final repayment,
    in time order."""
    loan_id = f"TW{c.ident:05d}"
    env = {
        "loan_id": loan_id,
        "borrower_id": f"tw-{c.ident:05d}",
        "source": "uci-taiwan",
        "schema_version": 1,
    }
    due = [month_end(first_month_end, j) for j in range(-BEFORE, MONTHS + 1)]
    rest = loan.principal - sum(loan.amounts)
    schedule = [
        {"seq": i + 1, "due_date": d, "principal": a, "interest": 0, "fees": 0}
        for i, (d, a) in enumerate(zip(due, [*loan.amounts, rest], strict=True))
    ]
    opened = datetime.combine(due[0] - timedelta(days=MONTH_DAYS), PAY_AT, zone)
    events: list[Event] = [
        LoanDisbursed(
            event_id=f"{loan_id}-d",
            event_time=opened,
            principal=loan.principal,
            currency="TWD",
            product="card-as-loan",
            disbursed_account=f"tw-{c.ident:05d}-card",
            interest_rate_bps=0,
            schedule=schedule,
            **env,
        )
    ]
    payments = [(m, p) for m, p in enumerate(c.paid) if p > 0]
    payments.append((MONTHS, loan.principal - sum(max(p, 0) for p in c.paid)))  # repaid
    for m, amount in payments:
        events.append(
            RepaymentReceived(
                event_id=f"{loan_id}-p{m}",
                event_time=datetime.combine(month_end(first_month_end, m - 1), PAY_AT, zone),
                amount=amount,
                kind="full" if m == MONTHS else "partial",
                payer_account=f"tw-{c.ident:05d}-card",
                payer_is_third_party=False,
                channel="statement",
                **env,
            )
        )
    events.extend(client_statements(c, loan_id, first_month_end, env, zone))
    events.sort(key=lambda e: e.event_time)
    return events


def client_statements(
    c: Client, loan_id: str, first_month_end: date, env: dict[str, Any], zone: tzinfo = ZONE
) -> Iterator[StatementIssued]:
    """The card's statements of May to September, each at the start of its month end D_m.

    Statement m carries the bill before it (month m-1), the payment of month m
    (which arrived on D_(m-1)) and the new bill: all the bank had printed by
    then. The status codes the engine cannot see (-2 no bill, -1 paid in full,
    0 revolving) follow from these figures. April has no statement: March's bill
    is not in the file.
    """
    for m in range(1, MONTHS):
        bill = c.bill[m]
        yield StatementIssued(
            event_id=f"{loan_id}-s{m}",
            event_time=datetime.combine(month_end(first_month_end, m), time(0), zone),
            previous_balance=c.bill[m - 1],
            payments=max(c.paid[m], 0),
            balance=bill,
            minimum_due=max(round(MIN_SHARE * bill), 1) if bill > 0 else 0,
            credit_limit=c.limit if c.limit > 0 else None,
            currency="TWD",
            **env,
        )


def engine_dpd(events: list[Event], first_month_end: date, policy: Policy) -> list[int]:
    """The engine's DPD at the start of each month end D_0 .. D_5, from the loan's events.

    The pure core's own loan state (`rules.loan`): every event applied in
    order, the clock moved to each month end before the events of that day.
    """
    disbursed, *rest = events
    assert isinstance(disbursed, LoanDisbursed)
    state = from_disbursement(disbursed, policy)
    out, pending = [], list(rest)
    for m in range(MONTHS):
        day = month_end(first_month_end, m)
        while pending and pending[0].event_time.astimezone(policy.zone).date() < day:
            apply(state, pending.pop(0), policy)
        advance(state, day, policy)
        out.append(state.dpd)
    return out


def start_offset(k: int) -> int:
    """Days after the first client's start at which the k-th client (in play order) starts."""
    return k // CLIENTS_PER_DAY


def panel_history(
    clients: list[Client], seed: int, zone: tzinfo = ZONE
) -> Iterator[tuple[Client, PanelLoan, int, list[Event]]]:
    """Each client (shuffled by ``seed``) with its loan, start offset in days and events.

    The events of different clients overlap in time: merge them by event time
    before replaying (`bench/early_warning.py` does).
    """
    order = list(clients)
    random.Random(seed).shuffle(order)
    for k, c in enumerate(order):
        offset = start_offset(k)
        loan = client_loan(c)
        first = FIRST_MONTH_END + timedelta(days=offset)
        yield c, loan, offset, client_events(c, loan, first, zone)
