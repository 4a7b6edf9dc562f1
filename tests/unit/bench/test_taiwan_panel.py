"""The Taiwan panel as loans: the engine's DPD follows the bank's status where promised."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from bench_modules import load

from rules.policy import load_policy

tp = load("taiwan_panel")
POLICY = load_policy()
FIRST = date(2005, 4, 30)


def _client(status: list[int], paid: list[int], bill: int = 5_000) -> object:
    return tp.Client(
        limit=50_000, status=status, bill=[bill] * 6, paid=paid, default=False, ident=1
    )


def _engine(client: object) -> list[int]:
    loan = tp.client_loan(client)
    return tp.engine_dpd(tp.client_events(client, loan, FIRST), FIRST, POLICY)


ROWS = [
    # current throughout, paying the minimum
    ([0, 0, 0, 0, 0, 0], [200, 200, 200, 200, 200, 200], 5_000),
    # one month late, two, then cured by a large payment, then paid in full
    ([0, 0, 1, 2, 0, -1], [200, 200, 0, 0, 900, 5_000], 5_000),
    # late in April already (pre-April installments), paying one a month
    ([2, 2, 2, 3, 4, 5], [100, 200, 200, 0, 0, 0], 5_000),
    # no consumption: nothing owed, nothing paid
    ([-2, -2, -2, -2, -2, -2], [0, 0, 0, 0, 0, 0], 0),
]


@pytest.mark.parametrize(("status", "paid", "bill"), ROWS)
def test_engine_dpd_is_status_times_30_where_promised(
    status: list[int], paid: list[int], bill: int
) -> None:
    client = _client(status, paid, bill)
    loan = tp.client_loan(client)
    got = _engine(client)
    assert got == loan.expected_dpd
    for m, promised in enumerate(loan.promised):
        if promised:
            assert got[m] == 30 * max(status[m], 0)


@pytest.mark.parametrize(("status", "paid", "bill"), ROWS)
def test_hand_made_rows_are_promised_every_month(
    status: list[int], paid: list[int], bill: int
) -> None:
    client = _client(status, paid, bill)
    assert tp.client_loan(client).promised == [True] * 6


def test_a_jump_from_current_to_two_months_late_shows_30_days_first() -> None:
    client = _client([0, 0, 2, 3, 3, 3], [200, 200, 0, 0, 0, 0])
    loan = tp.client_loan(client)
    assert _engine(client) == [0, 0, 30, 60, 90, 120]
    assert loan.promised == [True, True, False, False, True, False]


def test_a_month_end_does_not_depend_on_later_months() -> None:
    base = _client([0, 0, 0, 0, 0, 0], [200, 200, 200, 200, 200, 200])
    later_bad = replace(base, status=[0, 0, 0, 1, 2, 3], paid=[200, 200, 200, 0, 0, 0])
    assert _engine(base)[:3] == _engine(later_bad)[:3] == [0, 0, 0]
    first, other = tp.client_loan(base), tp.client_loan(later_bad)
    assert first.amounts[: tp.BEFORE + 2] == other.amounts[: tp.BEFORE + 2]
