"""The batch references of the online PD: what each learner may know, and what is judged."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from bench_modules import load

from streams.backtest import Learned

ref = load("pd_reference")
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _examples(n: int, start: datetime, *, sign: float = 1.0, seed: int = 0) -> list[Learned]:
    """Snapshots whose label follows the first feature (or its opposite, ``sign`` -1)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        x0, x1 = rng.gauss(0, 1), rng.gauss(0, 1)
        out.append(Learned(start + timedelta(hours=i), (x0, x1), sign * x0 > 0.5))
    return out


def _loans(n: int, start: datetime, pd: float | None = None) -> list[object]:
    """Loans scored one an hour from ``start``; bad when the first feature is high."""
    rng = random.Random(1)
    out = []
    for i in range(n):
        x0, x1 = rng.gauss(0, 1), rng.gauss(0, 1)
        out.append(
            ref.ScoredLoan(start + timedelta(hours=i), (x0, x1), x0 if pd is None else pd, x0 > 0.5)
        )
    return out


def test_only_labels_learned_before_the_first_judged_loan_are_trained_on() -> None:
    loans = _loans(200, T0 + timedelta(days=100))
    cut = loans[100].now
    before = _examples(300, T0)
    # Learned from the cut on, labels say the opposite: a learner that saw them would fail.
    after = _examples(3000, cut, sign=-1.0, seed=2)
    found = ref.time_respecting(list(reversed(loans)), [*before, *after])
    assert found.cut == cut and found.judged == 100
    assert found.examples == 300
    assert found.positives == sum(loan.bad for loan in loans[100:])
    assert set(found.batch) == {"boosting", "logistic"}
    assert found.best is not None and found.best > 0.9


def test_the_online_pd_is_judged_on_the_later_half_only() -> None:
    loans = _loans(200, T0)
    # Right about the later half, wrong about the earlier one.
    loans = [
        ref.ScoredLoan(s.now, s.x, s.pd if i >= 100 else -s.pd, s.bad) for i, s in enumerate(loans)
    ]
    found = ref.time_respecting(loans, [])
    assert found.online == pytest.approx(1.0)
    assert found.examples == 0 and found.batch == {} and found.best is None


def test_one_class_of_labels_before_the_cut_gives_no_batch_figure() -> None:
    loans = _loans(100, T0 + timedelta(days=30))
    good_only = [Learned(T0 + timedelta(hours=i), (0.0, 1.0), False) for i in range(50)]
    found = ref.time_respecting(loans, good_only)
    assert found.examples == 50 and found.batch == {}


def test_cross_validation_reports_each_learner_on_the_vectors_given() -> None:
    loans = _loans(400, T0)
    found = ref.cross_validated([s.x for s in loans], [s.bad for s in loans])
    assert set(found) == {"boosting", "logistic"}
    assert all(auc > 0.9 for auc in found.values())


def test_no_scored_loan_is_a_mistake_not_a_figure() -> None:
    with pytest.raises(ValueError, match="no scored loans"):
        ref.time_respecting([], [])


def test_asked_to_the_learners_also_fit_on_the_current_loans_labels_alone() -> None:
    loans = _loans(200, T0 + timedelta(days=100))
    # Late snapshots (first feature 0 is "DPD") carry labels the other way round.
    late = [Learned(e.now, (e.x[0] + 10, e.x[1]), not e.bad) for e in _examples(300, T0, seed=3)]
    current = [Learned(e.now, (0.0, e.x[0]), e.bad) for e in _examples(300, T0, seed=4)]
    found = ref.time_respecting(loans, [*late, *current], dpd_at=0)
    assert set(found.batch) == {"boosting", "logistic", "boosting_current", "logistic_current"}
    assert found.examples == 600
