"""Buckets and the five categories: boundaries, the floor, and the upgrade rule."""

from __future__ import annotations

import pytest
from test_loan_builders import POLICY, variant

from rules.classify import KLASSES, bucket_of, klass_of_dpd, klass_target, next_klass

NORMAL, SPECIAL, SUBSTANDARD, DOUBTFUL, LOSS = range(5)


@pytest.mark.parametrize(
    ("dpd", "label"),
    [
        (0, "M0"),
        (1, "M1"),
        (30, "M1"),
        (31, "M2"),
        (60, "M2"),
        (61, "M3"),
        (90, "M3"),
        (91, "M4"),
        (120, "M4"),
        (121, "M5"),
        (150, "M5"),
        (151, "M6"),
        (180, "M6"),
        (181, "M6+"),
        (10_000, "M6+"),
    ],
)
def test_bucket_boundaries(dpd: int, label: str) -> None:
    index, found = bucket_of(dpd, POLICY)

    assert found == label
    assert POLICY.bucket_labels[index] == label
    assert POLICY.bucket_index(dpd) == index


@pytest.mark.parametrize(
    ("dpd", "klass"),
    [
        (0, "normal"),
        (1, "special_mention"),
        (90, "special_mention"),
        (91, "substandard"),
        (270, "substandard"),
        (271, "doubtful"),
        (360, "doubtful"),
        (361, "loss"),
    ],
)
def test_class_boundaries_by_dpd(dpd: int, klass: str) -> None:
    assert KLASSES[klass_of_dpd(dpd, POLICY)] == klass
    assert POLICY.klass_for_dpd(dpd) == klass_of_dpd(dpd, POLICY)


def test_observation_floors_the_target_but_never_lowers_it() -> None:
    assert klass_target(0, True, POLICY) == SPECIAL
    assert klass_target(100, True, POLICY) == SUBSTANDARD
    assert klass_target(0, False, POLICY) == NORMAL


def test_a_downgrade_applies_at_once_whatever_the_streak() -> None:
    assert next_klass(NORMAL, dpd=95, observed=False, good_streak=99, policy=POLICY) == SUBSTANDARD


@pytest.mark.parametrize(("streak", "expected"), [(0, DOUBTFUL), (2, DOUBTFUL), (3, NORMAL)])
def test_an_upgrade_waits_for_enough_installments_paid_on_time(streak: int, expected: int) -> None:
    assert (
        next_klass(DOUBTFUL, dpd=0, observed=False, good_streak=streak, policy=POLICY) == expected
    )


def test_an_earned_upgrade_stops_at_the_floor_while_observed() -> None:
    assert next_klass(DOUBTFUL, dpd=0, observed=True, good_streak=3, policy=POLICY) == SPECIAL
    assert next_klass(SPECIAL, dpd=0, observed=True, good_streak=30, policy=POLICY) == SPECIAL


def test_the_upgrade_rule_and_floor_are_configuration() -> None:
    lenient = variant(
        ("upgrade_after_on_time: 3", "upgrade_after_on_time: 1"),
        ("restructured_floor: special_mention", "restructured_floor: substandard"),
    )

    assert next_klass(LOSS, dpd=0, observed=False, good_streak=1, policy=lenient) == NORMAL
    assert klass_target(0, True, lenient) == SUBSTANDARD
