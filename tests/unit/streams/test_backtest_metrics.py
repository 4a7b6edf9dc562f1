"""The backtest's figures on tiny hand-made histories, each figure worked out by hand.

The book (2024 is a leap year; the history ends on 31 December, horizon 90
days, bad = 60+ DPD or written off):

- ``A``: paid out 1 January, reached 60 DPD on 1 April, still active at the end;
- ``B``: paid out 1 January, never late, active at the end;
- ``C``: paid out 1 January, repaid on 1 February.
"""

from __future__ import annotations

from datetime import date, timedelta
from types import MappingProxyType

import pytest

from streams.backtest import (
    Alert,
    LoanOutcome,
    Study,
    book_figures,
    budget_view,
    evaluate,
    first_alerts,
    lead_over,
    signal_figures,
)

END = date(2024, 12, 31)
STUDY = Study(end=END, horizon_days=90, outcome_dpd=60)
JAN1 = date(2024, 1, 1)
APR1 = date(2024, 4, 1)

BOOK = {
    "A": LoanOutcome("A", JAN1, END, False, MappingProxyType({30: date(2024, 3, 2), 60: APR1})),
    "B": LoanOutcome("B", JAN1, END, False),
    "C": LoanOutcome("C", JAN1, date(2024, 2, 1), True),
}


def alert(loan: str, day: date, dpd: int = 0, signal: str = "r", severity: str = "low") -> Alert:
    return Alert(loan, signal, severity, day, dpd)


def figures(*alerts: Alert, book: dict[str, LoanOutcome] = BOOK):  # type: ignore[no-untyped-def]
    return signal_figures("r", alerts, book, STUDY, book_figures(book, STUDY))


def test_the_base_rate_is_the_share_of_at_risk_loan_days_followed_by_the_outcome() -> None:
    # A: 91 days before 1 April, of which the last 90 are within the horizon.
    # B: active to the end, judgeable up to 2 October (31 Dec - 90 d): 276 days.
    # C: active 32 days until it was repaid (none bad).
    found = book_figures(BOOK, STUDY)
    assert (found.loans, found.bad_loans, found.at_risk_days) == (3, 1, 91 + 276 + 32)
    assert found.base_rate == pytest.approx(90 / 399)
    assert found.loan_months == pytest.approx((366 + 366 + 32) / (365.25 / 12))


def test_figures_of_a_tiny_book_by_hand() -> None:
    found = figures(
        alert("A", date(2024, 3, 1)),  # 31 days before the outcome: a hit
        alert("A", date(2024, 4, 5), dpd=64),  # after the outcome: a report
        alert("B", date(2024, 6, 1)),  # judged (horizon ends 30 August): a false alarm
        alert("C", date(2024, 1, 20), dpd=3),  # repaid afterwards: judged, a false alarm
    )
    assert (found.alerts, found.alerted_loans, found.judged_loans, found.hits) == (4, 3, 3, 1)
    assert found.precision == pytest.approx(1 / 3)
    assert found.lift == pytest.approx((1 / 3) / (90 / 399))
    assert (found.caught, found.bad_loans, found.recall) == (1, 1, 1.0)
    assert found.lead_days is not None and found.lead_days.median == 31
    assert found.current_share == 0.5
    assert found.reports == 1
    assert found.alerts_per_1k_loan_months == pytest.approx(4 / (764 / (365.25 / 12)) * 1000)


def test_a_warning_after_the_outcome_is_not_a_lead() -> None:
    found = figures(alert("A", date(2024, 4, 5), dpd=64))
    assert (found.caught, found.recall, found.lead_days) == (0, 0.0, None)
    assert (found.alerted_loans, found.precision, found.reports) == (0, None, 1)


def test_a_warning_on_the_outcome_day_is_a_report_not_a_lead() -> None:
    found = figures(alert("A", APR1, dpd=60))
    assert (found.caught, found.reports, found.alerted_loans) == (0, 1, 0)


def test_a_warning_the_day_before_the_outcome_is_a_one_day_lead() -> None:
    found = figures(alert("A", date(2024, 3, 31), dpd=59))
    assert found.lead_days is not None and found.lead_days.median == 1
    assert found.precision == 1.0


def test_a_warning_further_ahead_than_the_horizon_is_a_false_alarm_and_no_catch() -> None:
    found = figures(alert("A", JAN1))  # 91 days ahead, horizon 90
    assert (found.judged_loans, found.hits, found.precision) == (1, 0, 0.0)
    assert (found.caught, found.recall) == (0, 0.0)


def test_precision_takes_the_first_alert_and_recall_any_in_the_horizon() -> None:
    found = figures(alert("A", JAN1), alert("A", date(2024, 3, 1)))
    assert (found.alerted_loans, found.hits, found.precision) == (1, 0, 0.0)
    assert found.caught == 1
    assert found.lead_days is not None and found.lead_days.median == 31


def test_an_alert_whose_horizon_runs_past_the_history_is_not_judged() -> None:
    found = figures(alert("B", date(2024, 12, 1)))
    assert (found.alerted_loans, found.judged_loans, found.precision, found.lift) == (
        1,
        0,
        None,
        None,
    )


def test_an_alert_is_judged_only_when_its_whole_horizon_is_in_the_history() -> None:
    early_end = Study(end=date(2024, 4, 15), horizon_days=90, outcome_dpd=60)
    book = {"A": BOOK["A"], "C": BOOK["C"]}
    found = signal_figures(
        "r",
        [alert("A", date(2024, 3, 1)), alert("C", date(2024, 1, 20))],
        book,
        early_end,
        book_figures(book, early_end),
    )
    # A's hit came early and C was repaid, but neither horizon ends by 15 April:
    # judging them would count the hit and the early-known miss, never the others.
    assert (found.alerted_loans, found.judged_loans, found.precision) == (2, 0, None)
    assert (found.caught, found.recall) == (1, 1.0)  # recall looks back from the outcome


def test_a_write_off_is_an_outcome_without_reaching_the_outcome_dpd() -> None:
    loan = LoanOutcome("W", JAN1, date(2024, 3, 1), True, written_off=date(2024, 3, 1))
    found = figures(alert("W", date(2024, 2, 1), dpd=30), book={"W": loan})
    assert (found.bad_loans, found.caught, found.precision) == (1, 1, 1.0)
    assert found.lead_days is not None and found.lead_days.median == 29


def test_lead_quartiles_over_several_loans() -> None:
    book = {
        f"L{i}": LoanOutcome(f"L{i}", JAN1, END, False, MappingProxyType({60: APR1}))
        for i in range(4)
    }
    alerts = [
        alert(f"L{i}", APR1 - timedelta(days=lead)) for i, lead in enumerate((10, 20, 30, 40))
    ]
    found = figures(*alerts, book=book)
    assert found.lead_days is not None
    assert (found.lead_days.p25, found.lead_days.median, found.lead_days.p75) == (17.5, 25, 32.5)


def test_paging_is_high_and_critical_together() -> None:
    found = evaluate(
        [
            alert("A", date(2024, 3, 1), signal="h", severity="high"),
            alert("B", date(2024, 6, 1), signal="c", severity="critical"),
            alert("C", date(2024, 1, 20), signal="l", severity="low"),
        ],
        BOOK,
        STUDY,
        rules=[("h", "high"), ("c", "critical"), ("l", "low"), ("quiet", "medium")],
    )
    assert found.paging.alerts == 2
    assert (found.paging.hits, found.paging.judged_loans) == (1, 2)
    assert found.rules["quiet"].alerts == 0
    assert found.severities["medium"].alerts == 0
    assert set(found.severities) == {"high", "critical", "low", "medium"}


def test_the_budget_takes_rules_by_lift_while_they_fit() -> None:
    alerts = [
        alert("A", date(2024, 3, 1), signal="good"),  # lift 399/90
        alert("A", date(2024, 3, 1), signal="half"),  # precision 1/2
        alert("B", date(2024, 6, 1), signal="half"),
        alert("B", date(2024, 6, 1), signal="bad"),  # precision 0
        alert("C", date(2024, 1, 20), signal="bad"),
    ]
    evaluation = evaluate(alerts, BOOK, STUDY)
    per_alert = evaluation.rules["good"].alerts_per_1k_loan_months
    view = budget_view(alerts, BOOK, evaluation, per_alert * 3.5)
    assert [f.name for f in view.chosen] == ["good", "half"]
    assert view.left_out == ("bad",)
    assert (view.together.alerts, view.together.recall) == (3, 1.0)
    tight = budget_view(alerts, BOOK, evaluation, per_alert * 1.5)
    assert [f.name for f in tight.chosen] == ["good"]


def test_lead_over_counts_from_each_signals_first_alert_on_loans_with_both() -> None:
    alerts = [
        alert("A", date(2024, 3, 20), signal="dpd_30"),
        alert("A", date(2024, 3, 30), signal="high_pd"),  # a later re-opening
        alert("A", date(2024, 2, 1), signal="high_pd"),
        alert("B", date(2024, 5, 1), signal="high_pd"),  # never reached dpd_30
        alert("C", date(2024, 1, 10), signal="dpd_30"),
        alert("C", date(2024, 1, 10), signal="high_pd"),
        alert("C", date(2024, 1, 5), signal="other"),
    ]
    assert lead_over(alerts, "high_pd", "dpd_30") == [48, 0]
    assert lead_over(alerts, "dpd_30", "high_pd") == [-48, 0]
    assert lead_over(alerts, "high_pd", "nothing") == []
    assert {i: a.day for i, a in first_alerts(alerts, "high_pd").items()} == {
        "A": date(2024, 2, 1),
        "B": date(2024, 5, 1),
        "C": date(2024, 1, 10),
    }
