"""The loan state's bytes: exact round trips, a bounded size, refusal of other formats.

The state is written to the Faust table (and its Kafka changelog) after every
step, so its size is a cost per event: a 12-installment loan after a busy year
must fit in 4 KiB.
"""

from __future__ import annotations

from datetime import date, timedelta

import orjson
import pytest
from test_loan_builders import POLICY, Book, at, monthly, open_loan, step, tick, variant

from rules.events import Event
from rules.loan import FORMAT, LoanState, LoanStateError, loan_from_bytes, loan_to_bytes
from rules.vocabulary import VOCABULARY

START = date(2024, 1, 5)


def busy_year(book: Book) -> list[Event]:
    """A 12-installment loan's year: repayments (one partial, one bounced), a daily
    balance, salary, card spending three days a week, other lenders every other
    week, monthly bureau reports and card statements, contact changes, promises and
    collateral."""
    events: list[Event] = []
    schedule = monthly(date(2024, 2, 5), 12, 10_000, 1_200)
    balance = 20_000
    for offset in range(1, 362):
        day = START + timedelta(days=offset)
        events.append(book.balance(at(day, 23, 59), balance + offset * 7))
        if day.day == 1:
            events.append(book.txn(at(day, 9), "in", 15_000, "salary", balance_after=balance))
            events.append(book.bureau(at(day, 6), 0, offset % 5))
        if day.weekday() in (1, 3, 5):
            events.append(book.txn(at(day, 19), "out", 300 + offset, balance_after=balance))
        if offset % 14 == 0:
            events.append(book.txn(at(day, 12), "out", 2_000, "other_lender"))
        if offset in (40, 200, 300):
            events.append(book.contact(at(day, 15), "phone"))
        if offset % 90 == 0:
            events.append(book.collateral(at(day, 11), "flat-1", 300_000 - offset))
        if day.day == 28:
            events.append(book.statement(at(day, 1), 4_000 + offset, 4_000, 5_000 + offset))
    for line in schedule[:11]:
        due = line["due_date"]
        owed = line["principal"] + line["interest"]
        if due.month == 4:  # partial, then the rest in grace
            events.append(book.repay(at(due, 10), owed // 2))
            events.append(book.repay(at(due + timedelta(days=2), 10), owed - owed // 2))
        elif due.month == 7:  # bounced, promised, paid late
            bounced = book.repay(at(due, 8), owed)
            events += [
                bounced,
                book.reverse(at(due + timedelta(days=1), 8), bounced),
                book.note(at(due + timedelta(days=6), 14), (due + timedelta(days=8), owed)),
                book.repay(at(due + timedelta(days=8), 16), owed, third_party=True),
            ]
        else:
            events.append(book.repay(at(due - timedelta(days=1), 20), owed))
    events.sort(key=lambda e: e.event_time)
    return events


def year_loan() -> LoanState:
    book = Book()
    loan, _ = open_loan(monthly(date(2024, 2, 5), 12, 10_000, 1_200), START, book)
    for event in busy_year(book):
        assert step(loan, event).rejected is None
    return loan


def test_a_twelve_installment_loan_after_a_busy_year_fits_in_four_kib() -> None:
    loan = year_loan()

    assert loan.status == "active" and loan.late_cure_count == 1
    assert len(loan_to_bytes(loan)) <= 4096


def test_the_busy_year_round_trips_exactly() -> None:
    loan = year_loan()
    data = loan_to_bytes(loan)

    copy = loan_from_bytes(data)

    assert copy == loan
    assert loan_to_bytes(copy) == data
    for name in VOCABULARY:
        scope, _, attr = name.partition(".")
        if scope in ("loan", "features"):
            owner_a = copy if scope == "loan" else copy.features
            owner_b = loan if scope == "loan" else loan.features
            assert getattr(owner_a, attr) == getattr(owner_b, attr), name


def test_a_loan_without_statements_keeps_the_layout_written_before_statements() -> None:
    book = Book()
    loan, _ = open_loan(monthly(date(2024, 2, 5), 12, 10_000, 1_200), START, book)
    step(loan, book.repay(at(date(2024, 2, 4), 10), 11_200))
    features = orjson.loads(loan_to_bytes(loan))[-1]

    assert len(features) == 20  # what a reader from before statements expects
    step(loan, book.statement(at(date(2024, 2, 28)), 0, 0, 900))
    grown = loan_from_bytes(loan_to_bytes(loan))
    assert len(orjson.loads(loan_to_bytes(loan))[-1]) == 21
    assert grown == loan and grown.features.statement_balance == 900


def test_a_restructured_loan_with_pending_transitions_round_trips() -> None:
    loan, book = open_loan(monthly(date(2024, 2, 10), 3, 1000, 50), date(2024, 1, 10))
    tick(loan, date(2024, 4, 1))
    step(loan, book.restructure(at(date(2024, 4, 1)), monthly(date(2024, 5, 1), 4, 750, 5), 6))
    step(loan, book.repay(at(date(2024, 5, 1)), 755))
    loan.installment_missed = True  # flags survive too

    copy = loan_from_bytes(loan_to_bytes(loan))

    assert copy == loan
    assert copy.drain_transitions() == loan.drain_transitions() != []


def test_other_formats_and_garbage_are_refused_with_a_reason() -> None:
    loan, _ = open_loan(monthly(date(2024, 2, 10), 3, 1000, 50), date(2024, 1, 10))
    obj = orjson.loads(loan_to_bytes(loan))

    with pytest.raises(
        LoanStateError, match=f"unknown loan state format 99 \\(expected {FORMAT}\\)"
    ):
        loan_from_bytes(orjson.dumps([99, *obj[1:]]))
    with pytest.raises(LoanStateError, match="not valid JSON"):
        loan_from_bytes(b"\x00garbage")
    with pytest.raises(LoanStateError, match="corrupt loan state"):
        loan_from_bytes(orjson.dumps(obj[:5]))


def test_the_ledger_is_bounded_and_its_oldest_entries_fold_into_the_base() -> None:
    small = variant(("ledger_size: 64", "ledger_size: 8"))
    schedule = monthly(date(2024, 2, 10), 12, 1000, 10)
    folded, book = open_loan(schedule, date(2024, 1, 10), policy=small)
    kept, _ = open_loan(schedule, date(2024, 1, 10), book=Book())
    payments = [book.repay(at(date(2024, 1, 11) + timedelta(days=9 * i)), 337) for i in range(30)]
    for payment in payments:
        step(folded, payment, small)
        step(kept, payment)

    assert len(folded._ledger) <= 8 < len(kept._ledger)
    for name in VOCABULARY:
        if name.startswith("loan."):
            attr = name.split(".", 1)[1]
            assert getattr(folded, attr) == getattr(kept, attr), name
    assert loan_from_bytes(loan_to_bytes(folded)) == folded

    too_old = step(folded, book.reverse(at(date(2024, 10, 1)), payments[0]), small)
    reversal = book.reverse(at(date(2024, 10, 1)), payments[-1])
    recent = step(folded, reversal, small)
    step(kept, reversal)

    assert too_old.rejected is not None and "ledger memory" in too_old.rejected
    assert recent.rejected is None
    assert folded.components()[1] == kept.components()[1]
    assert sum(folded.components()[1]) == 29 * 337
    assert (folded.dpd, folded.max_dpd, folded.bucket) == (kept.dpd, kept.max_dpd, kept.bucket)


def test_the_id_memory_keeps_the_last_n_ids() -> None:
    loan, book = open_loan(monthly(date(2024, 2, 10), 3, 1000, 50), date(2024, 1, 10))
    for minute in range(100):
        step(
            loan,
            book.balance(at(date(2024, 1, 11), 10, minute // 2) + timedelta(seconds=minute), 1),
        )

    assert len(loan._seen) == len(loan._seen_set) == POLICY.seen_event_ids


def test_the_positional_readers_match_the_field_order() -> None:
    # from_bytes builds LoanState and Features positionally (it is faster than
    # keywords); a reordered field must fail here, not corrupt loans silently.
    from dataclasses import fields

    from rules.features import Features
    from rules.loan.state import CORE

    names = [f.name for f in fields(LoanState)]
    start = names.index(CORE[0])
    assert tuple(names[start : start + len(CORE)]) == CORE
    assert names[:start] == [
        "loan_id",
        "borrower_id",
        "currency",
        "principal",
        "disbursed_on",
        "features",
        "_due",
        "_sched",
        "_paid",
        "_settled",
        "_sched_principal",
    ]
    assert names[start + len(CORE) :] == [
        "third_party_repayments",
        "_latest_t",
        "_barrier_t",
        "_barrier",
        "_seen",
        "_ledger",
        "_base",
        "klass_downgraded",
        "bucket_worsened",
        "installment_missed",
        "cured",
        "promise_broken",
        "_transitions",
        "_seen_set",
        "_cause",
        "_quiet",
    ]
    assert [f.name for f in fields(Features)] == [
        "disbursed_on",
        "principal",
        "currency",
        "today",
        "diverted_30d",
        "_days",
        "_bins",
        "_last_salary",
        "_balances",
        "_high_days",
        "_high_vals",
        "_first_large",
        "_bureau",
        "_contacts",
        "_last_contact",
        "_collateral",
        "_statement",
        "dbd_sum",
        "dbd_count",
        "outstanding",
        "_synced",
        "_edges",
        "_sums",
    ]
