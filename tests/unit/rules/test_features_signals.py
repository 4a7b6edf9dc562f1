"""Behaviour signals fed by events through the loan: balances, diversion, bureau,
contacts, collateral, statements, repayment timing; and the vocabulary contract for features."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from test_loan_builders import Book, at, monthly, open_loan, step, tick

from rules.loan import LoanState
from rules.vocabulary import VOCABULARY, RuleContext

D = date
SCHEDULE = monthly(D(2024, 2, 10), 3, 10_000, 500)  # principal 30,000


def loan_and_book() -> tuple[LoanState, Book]:
    return open_loan(SCHEDULE, D(2024, 1, 10))


def test_balance_is_the_sum_of_each_accounts_latest() -> None:
    loan, book = loan_and_book()
    step(loan, book.balance(at(D(2024, 1, 11), 9), 1_000, account="a"))
    step(loan, book.balance(at(D(2024, 1, 11), 10), 2_000, account="b"))
    step(loan, book.balance(at(D(2024, 1, 11), 12), 1_500, account="a"))
    step(loan, book.balance(at(D(2024, 1, 11), 8), 9_999, account="a"))  # older: ignored

    assert loan.features.balance == 3_500


def test_balance_drop_is_measured_from_the_seven_day_high() -> None:
    loan, book = loan_and_book()
    assert (loan.features.balance, loan.features.balance_drop_7d) == (None, 0.0)
    step(loan, book.balance(at(D(2024, 2, 1)), 10_000))
    step(loan, book.balance(at(D(2024, 2, 3)), 8_000))
    step(loan, book.txn(at(D(2024, 2, 5)), "out", 6_000, balance_after=2_000))

    assert loan.features.balance_drop_7d == pytest.approx(0.8)
    tick(loan, D(2024, 2, 8))  # 1 Feb left the window; the high is now 8,000
    assert loan.features.balance_drop_7d == pytest.approx(0.75)
    tick(loan, D(2024, 2, 12))
    assert loan.features.balance_drop_7d == 0.0  # only 2,000 seen in the last 7 days


def test_diversion_counts_outflows_to_risky_places_in_the_first_thirty_days() -> None:
    loan, book = loan_and_book()
    step(loan, book.txn(at(D(2024, 1, 10), 15), "out", 5_000, "securities"))
    step(loan, book.txn(at(D(2024, 1, 20)), "out", 4_000, "merchant"))
    step(loan, book.txn(at(D(2024, 2, 8)), "out", 3_000, "property"))  # day 29
    step(loan, book.txn(at(D(2024, 2, 9)), "out", 2_000, "other_lender"))  # day 30: too late

    assert loan.features.diverted_30d == 8_000
    assert loan.features.diverted_share == pytest.approx(8_000 / 30_000)


def test_first_large_outflow_is_half_the_principal_or_more() -> None:
    loan, book = loan_and_book()
    step(loan, book.txn(at(D(2024, 1, 15)), "out", 14_999))
    assert loan.features.days_to_first_large_outflow is None
    step(loan, book.txn(at(D(2024, 1, 22)), "out", 15_000))
    assert loan.features.days_to_first_large_outflow == 12
    step(loan, book.txn(at(D(2024, 1, 18)), "out", 20_000))  # arrives late, happened earlier
    assert loan.features.days_to_first_large_outflow == 8


def test_amounts_in_another_currency_are_left_out() -> None:
    loan, book = loan_and_book()
    step(loan, book.txn(at(D(2024, 1, 15)), "out", 50_000, "securities", currency="USD"))
    step(loan, book.balance(at(D(2024, 1, 15)), 7, currency="USD"))

    assert loan.features.outflow_7d == 0 and loan.features.diverted_30d == 0
    assert loan.features.balance is None


def test_bureau_keeps_the_latest_two_reports_by_event_time() -> None:
    loan, book = loan_and_book()
    step(loan, book.bureau(at(D(2024, 1, 20)), 0, 3))
    assert (loan.features.bureau_inquiries, loan.features.bureau_inquiry_jump) == (3, 0)
    step(loan, book.bureau(at(D(2024, 2, 20)), 1, 11, enforcement=True))
    step(loan, book.bureau(at(D(2024, 2, 15)), 0, 5))  # late: becomes the previous one

    features = loan.features
    assert (features.bureau_new_delinquencies, features.bureau_inquiries) == (1, 11)
    assert features.bureau_inquiry_jump == 6
    assert (features.bureau_lawsuit, features.bureau_enforcement) == (False, True)


def test_contact_changes_in_thirty_days_and_days_since() -> None:
    loan, book = loan_and_book()
    assert loan.features.days_since_contact_change is None
    for day in (D(2024, 1, 12), D(2024, 2, 1), D(2024, 2, 5)):
        step(loan, book.contact(at(day)))
    tick(loan, D(2024, 2, 12))

    assert loan.features.contact_changes_30d == 2
    assert loan.features.days_since_contact_change == 7


def test_collateral_ltv_follows_repayment_and_revaluation() -> None:
    loan, book = loan_and_book()
    assert loan.features.collateral_ltv is None
    step(loan, book.collateral(at(D(2024, 1, 11)), "flat", 40_000))
    step(loan, book.collateral(at(D(2024, 1, 11), 11), "car", 20_000))
    assert loan.features.collateral_ltv == pytest.approx(30_000 / 60_000)

    step(loan, book.repay(at(D(2024, 2, 10)), 10_500))
    step(loan, book.collateral(at(D(2024, 2, 11)), "flat", 20_000))

    assert loan.features.collateral_ltv == pytest.approx(20_000 / 40_000)


def test_collateral_in_another_currency_is_refused() -> None:
    loan, book = loan_and_book()

    refused = step(loan, book.collateral(at(D(2024, 1, 11)), "flat", 40_000, currency="USD"))

    assert refused.rejected == (
        "collateral valued in USD but the loan is in CNY; no currency conversion is done"
    )


def test_a_statement_tells_a_full_payer_from_a_revolver() -> None:
    loan, book = loan_and_book()
    assert loan.features.statement_balance is None
    assert not loan.features.statement_paid_in_full and not loan.features.statement_revolving
    step(loan, book.statement(at(D(2024, 1, 31)), 8_000, 8_000, 12_000))

    assert loan.features.statement_paid_in_full and not loan.features.statement_revolving
    assert loan.features.statement_paid_share == pytest.approx(1.0)
    assert loan.features.statement_utilisation == pytest.approx(12_000 / 50_000)

    step(loan, book.statement(at(D(2024, 2, 29)), 12_000, 500, 20_000))

    assert loan.features.statement_revolving and not loan.features.statement_paid_in_full
    assert loan.features.statement_paid_share == pytest.approx(500 / 12_000)
    assert loan.features.statement_balance == 20_000


def test_an_older_statement_does_not_replace_a_newer_one() -> None:
    loan, book = loan_and_book()
    step(loan, book.statement(at(D(2024, 2, 29)), 12_000, 500, 20_000))
    step(loan, book.statement(at(D(2024, 2, 28)), 8_000, 8_000, 12_000))  # late, older

    assert loan.features.statement_balance == 20_000


def test_a_statement_with_nothing_owed_has_no_paid_share_and_no_limit_no_utilisation() -> None:
    loan, book = loan_and_book()
    step(loan, book.statement(at(D(2024, 1, 31)), 0, 0, 0, limit=None))

    assert loan.features.statement_paid_share is None
    assert loan.features.statement_utilisation is None
    assert not loan.features.statement_revolving and not loan.features.statement_paid_in_full


def test_a_statement_in_another_currency_is_refused() -> None:
    loan, book = loan_and_book()

    refused = step(loan, book.statement(at(D(2024, 1, 31)), 0, 0, 100, currency="USD"))

    assert refused.rejected == (
        "statement in USD but the loan is in CNY; no currency conversion is done"
    )
    assert loan.features.statement_balance is None


def test_average_days_before_due_counts_each_repayment() -> None:
    loan, book = loan_and_book()
    step(loan, book.repay(at(D(2024, 2, 5)), 10_500))  # 5 days early
    step(loan, book.repay(at(D(2024, 3, 12)), 10_500))  # 2 days late

    assert loan.features.avg_days_before_due == pytest.approx(1.5)


TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def loans_in_every_condition() -> list[LoanState]:
    fresh, _ = loan_and_book()
    busy, book = loan_and_book()
    for event in (
        book.txn(at(D(2024, 1, 11)), "out", 20_000, "securities", balance_after=100),
        book.txn(at(D(2024, 1, 25)), "in", 8_000, "salary", balance_after=8_100),
        book.bureau(at(D(2024, 1, 26)), 1, 4, lawsuit=True),
        book.contact(at(D(2024, 1, 27))),
        book.collateral(at(D(2024, 1, 28)), "flat", 50_000),
        book.statement(at(D(2024, 1, 31)), 6_000, 1_000, 9_000),
        book.repay(at(D(2024, 2, 9)), 4_000),
        book.note(at(D(2024, 2, 20)), (D(2024, 2, 25), 6_500)),
    ):
        step(busy, event)
    tick(busy, D(2024, 2, 21))
    restructured, book = loan_and_book()
    step(
        restructured, book.restructure(at(D(2024, 1, 20)), monthly(D(2024, 3, 1), 2, 15_000, 1), 3)
    )
    closed, book = loan_and_book()
    step(closed, book.repay(at(D(2024, 1, 20)), 40_000))
    gone, book = loan_and_book()
    step(gone, book.write_off(at(D(2024, 5, 20)), 30_000))
    return [fresh, busy, restructured, closed, gone]


@pytest.mark.parametrize("index", range(5))
def test_every_loan_and_feature_name_in_the_vocabulary_reads_with_its_type(index: int) -> None:
    loan = loans_in_every_condition()[index]
    now = datetime(2024, 6, 1, tzinfo=UTC)
    ctx = RuleContext(loan, loan.features, None, {}, loan.today, now)

    for name, var in VOCABULARY.items():
        if not name.startswith(("loan.", "features.")):
            continue
        value = var.getter(ctx)
        if value is None:
            assert var.nullable, f"{name} is None but not nullable"
            continue
        expected = TYPES[var.type]
        assert type(value) is expected, f"{name}: {type(value).__name__}, not {var.type}"


def test_a_busy_loan_fills_the_nullable_features() -> None:
    busy = loans_in_every_condition()[1]
    ctx = RuleContext(busy, busy.features, None, {}, busy.today, datetime(2024, 6, 1, tzinfo=UTC))

    empty = [
        name
        for name, var in VOCABULARY.items()
        if name.startswith(("loan.", "features.")) and var.getter(ctx) is None
    ]

    assert empty == []
    assert busy.promise_open and busy.partial_payments == 1 and busy.dpd == 11
    assert busy.today == D(2024, 2, 21) and busy.today - timedelta(days=11) == D(2024, 2, 10)
