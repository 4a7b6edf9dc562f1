"""How early warning is judged, as pure functions of (alerts, outcomes).

Nothing here reads a file or a clock: the replay turns a history into
`Alert`s (opened warnings, or a PD score crossing a threshold) and per-loan
`LoanOutcome`s, and these functions turn those into figures. Every figure is
defined in docs/backtest.md; in short, with O a loan's outcome day (the first
day it reached the outcome DPD or was written off), H the horizon and A an
alert's day:

- an alert on or after O is a *report*, not a warning: it never counts as a
  hit or a lead;
- **precision**: of the loans a signal alerted before their outcome, each
  counted once at its first such alert A, the share with A < O <= A + H;
  an alert whose horizon runs past the end of the history is not judged,
  whatever happened to its loan;
- **base rate**: the same share for an alert on a random at-risk loan-day
  (every day a loan was active and not yet bad, judged the same way), so
  **lift** = precision / base rate is 1 for a signal that fires at random;
- **recall**: of the loans that reached the outcome, the share with an alert
  in the H days before it (O - H <= A < O); **lead** is O minus the first
  such alert's day;
- **alerts per 1,000 loan-months**: every opened alert, over the months the
  loans were active (days / 30.4375), times 1,000;
- **current share**: the share of alerts raised while the loan was at DPD 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median, quantiles

from streams.backtest.outcomes import LoanOutcome

__all__ = [
    "DAYS_PER_MONTH",
    "PAGING",
    "Alert",
    "BookFigures",
    "BudgetView",
    "Evaluation",
    "SignalFigures",
    "Spread",
    "Study",
    "book_figures",
    "budget_view",
    "evaluate",
    "first_alerts",
    "lead_over",
    "signal_figures",
]

DAYS_PER_MONTH = 365.25 / 12
PAGING = ("high", "critical")
"""Severities that page people: judged together as one row."""


@dataclass(frozen=True, slots=True)
class Alert:
    """An opened warning (or a score crossing a threshold) on one loan, one day."""

    loan_id: str
    signal: str
    """The rule id, or the model threshold (``pd>=0.3``)."""
    severity: str
    day: date
    dpd: int
    """The loan's DPD when the alert was raised."""


@dataclass(frozen=True, slots=True)
class Study:
    """What counts as bad, how soon, and where the history ends."""

    end: date
    horizon_days: int = 90
    outcome_dpd: int = 60


@dataclass(frozen=True, slots=True)
class Spread:
    """Lower quartile, median and upper quartile, in days."""

    p25: float
    median: float
    p75: float


@dataclass(frozen=True, slots=True)
class BookFigures:
    """The book as a whole: how many loans, how long, how many went bad."""

    loans: int
    loan_months: float
    bad_loans: int
    at_risk_days: int
    """Loan-days that were active, before the outcome and judgeable (see `base_rate`)."""
    base_rate: float | None
    """Share of those loan-days followed by the outcome within the horizon."""


@dataclass(frozen=True, slots=True)
class SignalFigures:
    """How one signal (a rule, a severity, paging, a PD threshold) did on the book."""

    name: str
    alerts: int
    alerts_per_1k_loan_months: float
    alerted_loans: int
    """Loans alerted before their outcome (or never bad)."""
    judged_loans: int
    """Of those, the loans whose first alert's whole horizon lies in the history."""
    hits: int
    """Of the judged, the loans that reached the outcome within the horizon."""
    precision: float | None
    lift: float | None
    bad_loans: int
    caught: int
    """Bad loans with an alert in the horizon before the outcome."""
    recall: float | None
    lead_days: Spread | None
    current_share: float | None
    reports: int
    """Alerts raised on or after the loan's outcome day: reports, not warnings."""


@dataclass(frozen=True, slots=True)
class Evaluation:
    """All the figures of one replay."""

    study: Study
    book: BookFigures
    rules: dict[str, SignalFigures]
    severities: dict[str, SignalFigures]
    paging: SignalFigures
    thresholds: dict[str, SignalFigures]


@dataclass(frozen=True, slots=True)
class BudgetView:
    """The rules, best lift first, that fit in a budget of alerts, and what they catch."""

    budget_per_1k_loan_months: float
    chosen: tuple[SignalFigures, ...]
    left_out: tuple[str, ...]
    together: SignalFigures


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _spread(values: Sequence[int]) -> Spread | None:
    if not values:
        return None
    if len(values) == 1:
        return Spread(values[0], values[0], values[0])
    p25, _, p75 = quantiles(values, n=4, method="inclusive")
    return Spread(p25, float(median(values)), p75)


def _judged(day: date, study: Study) -> bool:
    """Whether the whole horizon after ``day`` lies in the history.

    Only then is the alert judged, whatever happened: judging the alerts near
    the end whose outcome came early, and not the others, would count their
    hits and drop their misses.
    """
    return day + timedelta(days=study.horizon_days) <= study.end


def book_figures(outcomes: Mapping[str, LoanOutcome], study: Study) -> BookFigures:
    """The book's size, its bad loans and the base rate (a random at-risk loan-day)."""
    horizon = timedelta(days=study.horizon_days)
    last_judged = study.end - horizon
    days = positives = bad_loans = active = 0
    for outcome in outcomes.values():
        active += outcome.active_days
        bad = outcome.bad_day(study.outcome_dpd)
        first = outcome.first_day
        last = min(outcome.last_day if bad is None else bad - timedelta(days=1), last_judged)
        days += max(0, (last - first).days + 1)
        if bad is not None:
            bad_loans += 1
            positives += max(0, (last - max(first, bad - horizon)).days + 1)
    return BookFigures(
        loans=len(outcomes),
        loan_months=active / DAYS_PER_MONTH,
        bad_loans=bad_loans,
        at_risk_days=days,
        base_rate=_ratio(positives, days),
    )


def signal_figures(
    name: str,
    alerts: Iterable[Alert],
    outcomes: Mapping[str, LoanOutcome],
    study: Study,
    book: BookFigures,
) -> SignalFigures:
    """One signal's figures from its alerts (any order) and the loans' outcomes."""
    horizon = timedelta(days=study.horizon_days)
    count = current = reports = 0
    first_before: dict[str, date] = {}
    first_in_window: dict[str, date] = {}
    for alert in alerts:
        count += 1
        current += alert.dpd == 0
        outcome = outcomes.get(alert.loan_id)
        bad = outcome.bad_day(study.outcome_dpd) if outcome is not None else None
        if bad is not None and alert.day >= bad:
            reports += 1
            continue
        day = alert.day
        if day < first_before.get(alert.loan_id, date.max):
            first_before[alert.loan_id] = day
        if bad is not None and bad - day <= horizon:
            if day < first_in_window.get(alert.loan_id, date.max):
                first_in_window[alert.loan_id] = day
    judged = hits = 0
    for loan_id, day in first_before.items():
        outcome = outcomes.get(loan_id)
        if outcome is None:
            continue
        if not _judged(day, study):
            continue
        bad = outcome.bad_day(study.outcome_dpd)
        judged += 1
        hits += bad is not None and bad - day <= horizon
    leads = sorted(
        (outcomes[loan_id].bad_day(study.outcome_dpd) - day).days  # type: ignore[operator]
        for loan_id, day in first_in_window.items()
    )
    precision = _ratio(hits, judged)
    return SignalFigures(
        name=name,
        alerts=count,
        alerts_per_1k_loan_months=(count / book.loan_months * 1000) if book.loan_months else 0.0,
        alerted_loans=len(first_before),
        judged_loans=judged,
        hits=hits,
        precision=precision,
        lift=_ratio(precision, book.base_rate or 0) if precision is not None else None,
        bad_loans=book.bad_loans,
        caught=len(leads),
        recall=_ratio(len(leads), book.bad_loans),
        lead_days=_spread(leads),
        current_share=_ratio(current, count),
        reports=reports,
    )


def evaluate(
    alerts: Iterable[Alert],
    outcomes: Mapping[str, LoanOutcome],
    study: Study,
    *,
    rules: Iterable[tuple[str, str]] = (),
    thresholds: Iterable[Alert] = (),
) -> Evaluation:
    """Figures per rule, per severity, for paging and per PD threshold.

    ``rules`` lists (rule id, severity) of the pack, so a rule that never fired
    still gets its row (of zeros); model thresholds come as their own alerts.
    """
    book = book_figures(outcomes, study)
    by_rule: dict[str, list[Alert]] = {rule_id: [] for rule_id, _ in rules}
    by_severity: dict[str, list[Alert]] = {severity: [] for _, severity in rules}
    for alert in alerts:
        by_rule.setdefault(alert.signal, []).append(alert)
        by_severity.setdefault(alert.severity, []).append(alert)
    by_threshold: dict[str, list[Alert]] = defaultdict(list)
    for alert in thresholds:
        by_threshold[alert.signal].append(alert)

    def figures(groups: Mapping[str, list[Alert]]) -> dict[str, SignalFigures]:
        return {
            key: signal_figures(key, found, outcomes, study, book) for key, found in groups.items()
        }

    paging = [alert for severity in PAGING for alert in by_severity.get(severity, ())]
    return Evaluation(
        study=study,
        book=book,
        rules=figures(by_rule),
        severities=figures(by_severity),
        paging=signal_figures("paging", paging, outcomes, study, book),
        thresholds=figures(by_threshold),
    )


def budget_view(
    alerts: Iterable[Alert],
    outcomes: Mapping[str, LoanOutcome],
    evaluation: Evaluation,
    budget: float,
) -> BudgetView:
    """The rules that fit ``budget`` alerts per 1,000 loan-months, taken best lift first.

    A rule whose rate would overflow what is left is skipped and the next one
    tried; rules without a lift (no judged loan, or no bad loan in the book)
    are left out. ``together`` judges the chosen rules' alerts as one signal.
    """
    ranked = sorted(
        (f for f in evaluation.rules.values() if f.lift is not None and f.alerts),
        key=lambda f: (-(f.lift or 0.0), f.alerts_per_1k_loan_months, f.name),
    )
    chosen: list[SignalFigures] = []
    used = 0.0
    for figures in ranked:
        if used + figures.alerts_per_1k_loan_months <= budget:
            chosen.append(figures)
            used += figures.alerts_per_1k_loan_months
    names = {f.name for f in chosen}
    together = signal_figures(
        "budget",
        (alert for alert in alerts if alert.signal in names),
        outcomes,
        evaluation.study,
        evaluation.book,
    )
    left_out = tuple(sorted(name for name in evaluation.rules if name not in names))
    return BudgetView(budget, tuple(chosen), left_out, together)


def first_alerts(alerts: Iterable[Alert], signal: str) -> dict[str, Alert]:
    """Each loan's first alert of ``signal`` (the earliest day; the first seen on a tie)."""
    out: dict[str, Alert] = {}
    for alert in alerts:
        if alert.signal == signal:
            known = out.get(alert.loan_id)
            if known is None or alert.day < known.day:
                out[alert.loan_id] = alert
    return out


def lead_over(alerts: Iterable[Alert], first: str, then: str) -> list[int]:
    """Per loan alerted by both signals: days from ``first``'s first alert to ``then``'s.

    Positive when ``first`` came earlier (``lead_over(alerts, "high_pd", "dpd_30")``:
    how long the PD's warning leads the rule it should beat), 0 the same day. Loans
    with only one of the two are left out. In loan id order.

    >>> day = date(2025, 1, 1)
    >>> alerts = [
    ...     Alert("a", "dpd_30", "high", day + timedelta(days=40), 30),
    ...     Alert("a", "high_pd", "high", day + timedelta(days=12), 0),
    ...     Alert("a", "high_pd", "high", day + timedelta(days=50), 30),
    ...     Alert("b", "high_pd", "high", day, 0),
    ...     Alert("c", "dpd_30", "high", day, 30),
    ...     Alert("c", "high_pd", "high", day + timedelta(days=5), 35),
    ... ]
    >>> lead_over(alerts, "high_pd", "dpd_30")
    [28, -5]
    """
    kept = list(alerts)
    leading, trailing = first_alerts(kept, first), first_alerts(kept, then)
    both = sorted(leading.keys() & trailing.keys())
    return [(trailing[i].day - leading[i].day).days for i in both]
