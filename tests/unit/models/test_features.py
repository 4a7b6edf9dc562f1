from __future__ import annotations

from datetime import timedelta

from loans import START, open_loan, repay, tick

from models import PD_FEATURES, pd_features


def test_pd_features_of_a_real_loan_are_every_name_as_float() -> None:
    loan = open_loan()
    x = pd_features(loan)
    assert list(x) == list(PD_FEATURES)
    assert all(type(v) is float for v in x.values())
    assert x["dpd"] == 0.0 and x["outstanding_share"] == 1.0


def test_missed_installment_raises_dpd_and_overdue_share_features() -> None:
    loan = open_loan()
    tick(loan, START + timedelta(days=50))
    late = pd_features(loan)
    assert late["dpd"] > 0 and late["overdue_share"] > 0 and late["missed_installments"] == 1.0
    repay(loan, START + timedelta(days=51), 101_000, 1)
    cured = pd_features(loan)
    assert cured["dpd"] == 0.0 and cured["late_cure_count"] == 1.0


def test_pd_features_leave_out_the_label_facts() -> None:
    assert not {"status", "written_off"} & set(PD_FEATURES)
